import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.js';
import { RunletError } from '../errors.js';
import { registerAdminRoutes } from './admin.js';
import { registerCancelRoutes } from './cancel.js';
import { registerDashboardRoutes } from './dashboard.js';
import { registerEnvRoutes } from './env.js';
import { registerErrorHandling, sendError } from './errors.js';
import { registerFileRoutes } from './files.js';
import { registerKeyRoutes } from './keys.js';
import { registerLogRoutes } from './logs.js';
import { registerMetaRoutes } from './meta.js';
import { collectRouteDocs } from './openapi.js';
import { registerResultRoutes } from './results.js';
import { registerRunEventRoutes } from './run-events.js';
import { registerRunListRoutes } from './run-list.js';
import { registerRunRoutes } from './runs.js';
import { registerServiceRoutes } from './services.js';
import { registerSessionRoutes } from './sessions.js';
import { registerUsageRoutes } from './usage.js';
import { registerWebhookRoutes } from './webhooks.js';

/** The HTTP API of one runtime, built without listening (tests `inject()` into it). */
export function buildApp(runtime: Runtime, options: { logger?: boolean | object } = {}): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: runtime.config.bodyLimitBytes,
    // Long-polls and log streams stay open for minutes; the run limits bound them instead.
    requestTimeout: 0,
    // Long enough that an over-long id or variable name reaches its route and gets its own error.
    routerOptions: { maxParamLength: 500 },
    // Runs are the unit worth logging, not each HTTP exchange (a log stream is one long one).
    logController: new LogController({ disableRequestLogging: true }),
    // Errors Fastify raises before routing (a URL that does not decode) get the same envelope.
    frameworkErrors: (error, _request, reply) => sendError(reply, new RunletError('INVALID_REQUEST', error.message)),
  });
  // Bodies reach services as the bytes that were sent, whatever their type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  registerErrorHandling(app);
  void app.register(cors, corsOptions(runtime.config.corsOrigins));
  const openapi = collectRouteDocs(app);
  registerRunRoutes(app, runtime);
  registerResultRoutes(app, runtime);
  registerCancelRoutes(app, runtime);
  registerLogRoutes(app, runtime);
  registerFileRoutes(app, runtime);
  registerWebhookRoutes(app, runtime);
  registerMetaRoutes(app, runtime, openapi);
  registerServiceRoutes(app, runtime);
  registerRunListRoutes(app, runtime);
  registerRunEventRoutes(app, runtime);
  registerUsageRoutes(app, runtime);
  registerSessionRoutes(app, runtime);
  registerKeyRoutes(app, runtime);
  registerEnvRoutes(app, runtime);
  registerAdminRoutes(app, runtime);
  registerDashboardRoutes(app);
  return app;
}

/** Browsers may call the API from the configured origins, and read the headers the clients need. */
function corsOptions(origins: string) {
  const list = origins.split(',').map((o) => o.trim()).filter(Boolean);
  return {
    origin: list.includes('*') ? '*' : list,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: ['x-request-id', 'x-runlet-error', 'retry-after', 'content-disposition', 'etag', 'idempotent-replayed'],
    maxAge: 600,
    // An OPTIONS without Origin is no preflight, but a plain question about the resource: it
    // gets the same 204, not the plugin's plain-text 400 (every error here is JSON with a code).
    strictPreflight: false,
  };
}

import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { buildApp } from './http/app.js';
import { Runtime } from './runtime.js';

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  runtime: Runtime;
  close(): Promise<void>;
}

/** Opens the store, listens, then starts the runtime (services, recovery, dispatch). */
export async function startServer(config: Config, options: { logger?: boolean | object } = {}): Promise<RunningServer> {
  const logger = options.logger ?? { level: config.logLevel };
  // The runtime logs through the same pino instance as the HTTP server, created first.
  const holder: { app?: FastifyInstance } = {};
  const log = {
    info: (obj: object, msg?: string) => holder.app?.log.info(obj, msg),
    warn: (obj: object, msg?: string) => holder.app?.log.warn(obj, msg),
    error: (obj: object, msg?: string) => holder.app?.log.error(obj, msg),
  };
  const runtime = await Runtime.open(config, log);
  const app = buildApp(runtime, { logger });
  holder.app = app;
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    await runtime.start(url);
  } catch (err) {
    // A start that fails (a wrong master key, say) leaves nothing open behind it.
    await app.close();
    await runtime.close();
    throw err;
  }
  app.log.info({ url: runtime.url, node: runtime.nodeId }, 'runtime started');
  let closing: Promise<void> | undefined;
  return {
    url: runtime.url,
    app,
    runtime,
    close: () =>
      (closing ??= (async () => {
        // Stop taking connections first; runs in flight finish (within the grace) before the store closes.
        const closed = app.close();
        await runtime.close();
        await closed;
      })()),
  };
}

import type { FastifyInstance } from 'fastify';
import { ConfigError, type Config } from './config.js';
import { buildApp } from './http/app.js';
import { Runtime } from './runtime.js';

/** How long readers still connected once a shutdown has drained its runs get to finish. */
const READERS_CUT_AFTER_MS = 1000;

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
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await runtime.close();
    throw cannotListen(err, config);
  }
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
        // Runs in flight finish (within the grace) while the server still answers: new runs get
        // 503, readers of results and logs are served. Then no more connections, and the store closes.
        await runtime.drain();
        const closed = app.close();
        // Readers left wait on runs that are not over here (handed back to the queue, or run by
        // another node): they are cut after a moment, and resume on another node or after the restart.
        let cut: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise((r) => (cut = setTimeout(r, READERS_CUT_AFTER_MS)))]);
        clearTimeout(cut);
        app.server.closeAllConnections();
        await closed;
        await runtime.close();
      })()),
  };
}

/** A listen that fails is a setting to fix: a ConfigError that says which address and what to do. */
function cannotListen(err: unknown, config: Pick<Config, 'host' | 'port'>): Error {
  const code = (err as { code?: string }).code;
  const address = `${config.host}:${config.port}`;
  if (code === 'EADDRINUSE') return new ConfigError(`cannot listen on ${address}: something else listens there (stop it, or choose another --port; 0 picks a free one)`);
  if (code === 'EACCES') return new ConfigError(`cannot listen on ${address}: not allowed (ports below 1024 need privileges; choose another --port)`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new ConfigError(`cannot listen on ${address}: no such address on this machine (check --host)`);
  return err instanceof Error ? err : new Error(String(err));
}

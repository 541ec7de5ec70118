/**
 * Runlet's runtime as a library: start a server in-process (as the tests and benchmarks do).
 *
 * @example
 * const server = await startServer(loadConfig({ port: 0, servicesDir: 'services' }));
 * console.log(server.url);
 * await server.close();
 */
export { startServer, type RunningServer } from './server.js';
export { loadConfig, ConfigError, type Config, type ConfigInput } from './config.js';
export { RunletError } from './errors.js';
export type { Store } from './store/store.js';

/**
 * A service may live in any folder, not only under this checkout: its `import ... from
 * '@runlet/sdk'` then finds no SDK installed beside it, and is given the host's own. A service
 * that has an SDK of its own installed keeps it: this SDK is only the fallback.
 */
import Module, { createRequire, register } from 'node:module';
import { isSdkSpecifier } from './sdk-resolve-hooks.js';

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;

/** Installs the fallback for ES modules (a loader hook) and for CommonJS (tsx compiles a folder without `"type": "module"` to it). */
export function resolveSdkFromAnywhere(): void {
  register('./sdk-resolve-hooks.js', import.meta.url);
  const hostRequire = createRequire(import.meta.url);
  const modules = Module as unknown as { _resolveFilename: ResolveFilename };
  const resolveFilename = modules._resolveFilename;
  modules._resolveFilename = function (request, parent, isMain, options) {
    try {
      return resolveFilename.call(this, request, parent, isMain, options);
    } catch (err) {
      if (!isSdkSpecifier(request) || (err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
      return hostRequire.resolve(request);
    }
  };
}

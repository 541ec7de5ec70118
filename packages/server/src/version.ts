import { readFileSync } from 'node:fs';

/** Runlet's version, from the server package's manifest: one place, so the CLI, /healthz and the API description agree. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

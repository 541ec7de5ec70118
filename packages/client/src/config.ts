/** Where the client finds its settings when they are not given: environment variables, if the platform has them. */
function env(name: string): string | undefined {
  const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  return value === undefined || value === '' ? undefined : value;
}

/** Runlet's own default address (`runlet dev`). */
export const DEFAULT_BASE_URL = 'http://127.0.0.1:8080';

/** Base URL: the argument, else `RUNLET_URL`, else `NEXT_PUBLIC_RUNTIME_URI` (the official client's), else `CODEWORDS_RUNTIME_URI`. */
export function resolveBaseUrl(given?: string): string {
  const url = given ?? env('RUNLET_URL') ?? env('NEXT_PUBLIC_RUNTIME_URI') ?? env('CODEWORDS_RUNTIME_URI') ?? DEFAULT_BASE_URL;
  return url.replace(/\/+$/, '');
}

/** API key: the argument, else `CODEWORDS_API_KEY`, else `RUNLET_API_KEY`. */
export function resolveApiKey(given?: string): string {
  const key = given ?? env('CODEWORDS_API_KEY') ?? env('RUNLET_API_KEY');
  if (!key) throw new TypeError('No API key: pass one, or set CODEWORDS_API_KEY (or RUNLET_API_KEY).');
  return key;
}

export type KeyType = 'standard' | 'one_time' | 'unknown';

/** `cwk-` keys are reusable, `cwotk-` keys one-time; the prefix says which. */
export function keyTypeOf(key: string): KeyType {
  if (key.startsWith('cwotk-')) return 'one_time';
  if (key.startsWith('cwk-')) return 'standard';
  return 'unknown';
}

/** The loader hook of `sdk-resolution.ts`, run on Node's loader thread: '@runlet/sdk' the service cannot find resolves as the host's. */
const SDK = '@runlet/sdk';

export function isSdkSpecifier(specifier: string): boolean {
  return specifier === SDK || specifier.startsWith(`${SDK}/`);
}

type Resolve = (specifier: string, context: { parentURL?: string }) => Promise<unknown>;

export async function resolve(specifier: string, context: { parentURL?: string }, nextResolve: Resolve): Promise<unknown> {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if (!isSdkSpecifier(specifier) || (err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    // Resolved from here, inside the host's own SDK, as the host's import of it is.
    return nextResolve(specifier, { ...context, parentURL: import.meta.url });
  }
}

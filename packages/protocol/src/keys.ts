/** `cwk-` keys are reusable; `cwotk-` keys are spent by the first call that starts a run. */
export const KEY_PREFIXES = { standard: 'cwk-', one_time: 'cwotk-' } as const;
export type KeyKind = keyof typeof KEY_PREFIXES;

export function keyKindOf(key: string): KeyKind | undefined {
  if (key.startsWith(KEY_PREFIXES.one_time)) return 'one_time';
  if (key.startsWith(KEY_PREFIXES.standard)) return 'standard';
  return undefined;
}

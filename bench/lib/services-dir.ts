/**
 * The services folder the bench server loads, built in a temporary folder from symlinks: the
 * test fixtures' `echo` and `noop`, the bench's own `stamp` and `logline`, and `cold-N`
 * copies of `stamp` that keep no warm worker (`minWarm: 0`), so each one's first call is cold.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../../packages/server/test/fixtures/services/', import.meta.url));
export const EXAMPLES = fileURLToPath(new URL('../../examples/services/', import.meta.url));
const BENCH_SERVICES = fileURLToPath(new URL('../services/', import.meta.url));

export function buildServicesDir(root: string, coldServices: number): { dir: string; coldIds: string[] } {
  const dir = path.join(root, 'services');
  mkdirSync(dir, { recursive: true });
  symlinkSync(path.join(FIXTURES, 'echo.ts'), path.join(dir, 'echo.ts'));
  symlinkSync(path.join(FIXTURES, 'noop.ts'), path.join(dir, 'noop.ts'));
  symlinkSync(path.join(BENCH_SERVICES, 'stamp.ts'), path.join(dir, 'stamp.ts'));
  symlinkSync(path.join(BENCH_SERVICES, 'logline.ts'), path.join(dir, 'logline.ts'));
  const coldIds: string[] = [];
  for (let i = 1; i <= coldServices; i++) {
    const id = `cold-${i}`;
    mkdirSync(path.join(dir, id));
    symlinkSync(path.join(BENCH_SERVICES, 'stamp.ts'), path.join(dir, id, 'index.ts'));
    writeFileSync(path.join(dir, id, 'runlet.json'), JSON.stringify({ minWarm: 0 }));
    coldIds.push(id);
  }
  return { dir, coldIds };
}

import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A 32-byte random secret kept, hex-encoded, in `<dir>/<name>`: created on first use, readable
 * by the runtime's user only (0600). Of two processes starting together, one creates it (`wx`)
 * and the other reads what it wrote.
 */
export function readOrCreateSecretFile(dir: string, name: string): string {
  const file = path.join(dir, name);
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    chmodSync(file, 0o600);
  }
  const secret = readFileSync(file, 'utf8').trim();
  if (secret.length < 32) throw new Error(`${file} holds a secret shorter than 32 characters; delete it to make a new one`);
  return secret;
}

import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** Random bytes drawn in blocks: one call into the kernel serves many ids. */
let pool = Buffer.alloc(0);
let offset = 0;
function takeRandom(length: number): Buffer {
  if (offset + length > pool.length) {
    pool = randomBytes(Math.max(4096, length));
    offset = 0;
  }
  offset += length;
  return pool.subarray(offset - length, offset);
}

/** A random id of `length` base-36 characters (about 5.2 bits each). */
export function randomId(length: number): string {
  const bytes = takeRandom(length);
  let out = '';
  // 252 is the largest multiple of 36 below 256: rejecting bytes past it keeps the alphabet uniform.
  for (let i = 0; out.length < length; i++) {
    if (i >= bytes.length) return out + randomId(length - out.length);
    const b = bytes[i]!;
    if (b < 252) out += ALPHABET[b % 36];
  }
  return out;
}

/** Request ids look like the seed's `req_abc123def456`, with enough entropy not to be guessed. */
export const newRequestId = (): string => `req_${randomId(24)}`;
export const newAccountId = (): string => `acc_${randomId(16)}`;
export const newKeyId = (): string => `key_${randomId(16)}`;
export const newNodeId = (): string => `node_${randomId(10)}`;

import { randomId } from '../ids.js';

/** File ids: 24 base-36 characters (about 124 bits), enough that none is ever guessed. */
export const newFileId = (): string => `file_${randomId(24)}`;

const FILE_ID = /^file_[0-9a-z]{24}$/;

/** Only ids of exactly this shape reach the storage: nothing else can name a path. */
export function isFileId(value: unknown): value is string {
  return typeof value === 'string' && FILE_ID.test(value);
}

import { mayRead } from '../keys/principal.js';
import type { RequestRecord } from '@runlet/protocol';
import { RunletError } from '../errors.js';
import type { RunWithAttempts, Store } from '../store/store.js';
import type { Principal } from './access.js';
import { toWireAttempt } from './attempts.js';
import { toRequestRecord } from './record.js';

/** The request record with the attempts that have ended, as `/request`, `/result` and webhooks send it. */
export function fullRequestRecord({ run, attempts }: RunWithAttempts): RequestRecord {
  const record = toRequestRecord(run);
  if (attempts.length > 0) record.attempts = attempts.map(toWireAttempt);
  return record;
}

/**
 * The error for a run id that names no visible run: RUN_EXPIRED when it was this account's and
 * has been purged (a tombstone remains for a while), else RUN_NOT_FOUND, so that another
 * account's ids stay as unknown as missing ones.
 */
export async function missingRunError(store: Store, principal: Principal, id: string): Promise<RunletError> {
  const tombstone = await store.getTombstone(id);
  const own = tombstone && mayRead(principal, tombstone.accountId, id);
  if (own) return new RunletError('RUN_EXPIRED', `The request "${id}" passed its retention period and was deleted.`, { requestId: id });
  return new RunletError('RUN_NOT_FOUND', `No request "${id}".`);
}

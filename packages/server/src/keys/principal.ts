import type { ApiKeyRecord } from '../store/store.js';

/** Who is calling: an account, through one of its keys. */
export interface Principal {
  accountId: string;
  key: ApiKeyRecord;
}

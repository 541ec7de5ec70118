import { generateApiKey, displayPrefix, hashApiKey } from '../keys/api-keys.js';
import { newKeyId } from '../ids.js';
import type { Store } from '../store/store.js';

/**
 * The key a worker uses to call other services as the account it serves. Minted per account
 * when its first worker starts, kept in memory only, and deleted from the store when the
 * runtime starts again, so a key never outlives the process that handed it out.
 */
export class WorkerKeys {
  private readonly keys = new Map<string, Promise<string>>();

  constructor(private readonly store: Store) {}

  forAccount(accountId: string): Promise<string> {
    let key = this.keys.get(accountId);
    if (!key) {
      key = this.mint(accountId);
      this.keys.set(accountId, key);
      key.catch(() => this.keys.delete(accountId));
    }
    return key;
  }

  private async mint(accountId: string): Promise<string> {
    const secret = generateApiKey('standard');
    await this.store.createApiKey({
      id: newKeyId(),
      accountId,
      kind: 'standard',
      name: 'worker key (internal)',
      hash: hashApiKey(secret),
      prefix: displayPrefix(secret),
      createdAt: Date.now(),
      internal: true,
    });
    return secret;
  }
}

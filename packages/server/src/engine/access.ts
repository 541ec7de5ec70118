import { mayRead } from '../keys/principal.js';
import { RunletError } from '../errors.js';
import { hashApiKey, keyFromAuthorization } from '../keys/api-keys.js';
import type { Principal } from '../keys/principal.js';
import type { KeyUsage, RunRow, Store } from '../store/store.js';

export type { Principal };

/**
 * Authentication and the one-time key rules. Keys are looked up on every call (no cache), so
 * a revoked or spent key is refused at once; their use is counted in memory and written in
 * batches, so counting costs no write per call.
 */
export class Access {
  private usage = new Map<string, KeyUsage>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly store: Store) {
    this.timer = setInterval(() => void this.flushUsage(), 1000);
    this.timer.unref();
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const secret = keyFromAuthorization(authorization);
    if (!secret) throw new RunletError('AUTH_MISSING');
    const key = await this.store.findApiKeyByHash(hashApiKey(secret));
    if (!key) throw new RunletError('AUTH_INVALID');
    if (key.revokedAt !== null) throw new RunletError('KEY_REVOKED');
    if (key.expiresAt !== null && key.expiresAt <= Date.now()) throw new RunletError('KEY_EXPIRED');
    const u = this.usage.get(key.id) ?? { count: 0, lastUsedAt: 0 };
    this.usage.set(key.id, { count: u.count + 1, lastUsedAt: Date.now() });
    return { accountId: key.accountId, key };
  }

  /**
   * The key to spend when `principal` starts (or provisions) a run: a one-time key not yet
   * spent, or spent on exactly the provisioned run being started. The store spends it in the
   * same transaction that records the run, so of many concurrent calls exactly one wins.
   */
  keyToSpend(principal: Principal, provisionedId?: string): string | undefined {
    const { key } = principal;
    if (key?.kind !== 'one_time') return undefined;
    if (key.spentAt !== null && (!provisionedId || key.spentRunId !== provisionedId)) throw new RunletError('KEY_SPENT');
    return key.id;
  }

  /** A key made for some services only starts runs of those (checked before a one-time key is spent). */
  checkService(principal: Principal, serviceId: string): void {
    const allowed = principal.key?.services;
    if (allowed && !allowed.includes(serviceId)) {
      throw new RunletError('KEY_SERVICE_NOT_ALLOWED', `This key may run ${allowed.map((s) => `"${s}"`).join(', ')} only, not "${serviceId}".`);
    }
  }

  /** A run is visible to its own account only, and to a one-time key only if it is the key's run. */
  canRead(principal: Principal, run: RunRow | undefined): run is RunRow {
    return !!run && mayRead(principal, run.accountId, run.id);
  }

  async flushUsage(): Promise<void> {
    if (this.usage.size === 0) return;
    const batch = this.usage;
    this.usage = new Map();
    await this.store.recordKeyUsage(batch).catch(() => {});
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flushUsage();
  }
}

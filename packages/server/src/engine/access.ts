import { mayRead } from '../keys/principal.js';
import { RunletError } from '../errors.js';
import { hashApiKey, keyFromAuthorization } from '../keys/api-keys.js';
import type { Principal } from '../keys/principal.js';
import type { ApiKeyRecord, KeyUsage, RunRow, Store } from '../store/store.js';

export type { Principal };

/** How long a reusable key, once looked up, is taken on this node's word (revocations through Runlet reach every node at once). */
export const KEY_CACHE_MS = 1000;
/** Past this many keys the cache starts over, so a flood of distinct keys cannot grow it. */
const KEY_CACHE_MAX = 10_000;

/**
 * Authentication and the one-time key rules. A reusable key found in the store is kept for
 * up to a second, so a busy caller costs no lookup per call: revoking it through the API or
 * the dashboard drops it from every node's cache at once (a bus notice); a store changed
 * behind Runlet's back (the CLI against a running server) is seen within the second. One-time
 * keys are looked up on every call, since their state changes with use. Use is counted in
 * memory and written in batches, so counting costs no write per call.
 */
export class Access {
  private usage = new Map<string, KeyUsage>();
  private readonly timer: NodeJS.Timeout;
  private readonly cached = new Map<string, { key: ApiKeyRecord; until: number }>();

  constructor(private readonly store: Store) {
    this.timer = setInterval(() => void this.flushUsage(), 1000);
    this.timer.unref();
  }

  /** A key was revoked (here or on another node): it is looked up again on its next call. */
  forget(keyId: string): void {
    for (const [hash, entry] of this.cached) if (entry.key.id === keyId) this.cached.delete(hash);
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const secret = keyFromAuthorization(authorization);
    if (!secret) throw new RunletError('AUTH_MISSING');
    const key = await this.lookup(hashApiKey(secret));
    if (!key) throw new RunletError('AUTH_INVALID');
    if (key.revokedAt !== null) throw new RunletError('KEY_REVOKED');
    if (key.expiresAt !== null && key.expiresAt <= Date.now()) throw new RunletError('KEY_EXPIRED');
    const u = this.usage.get(key.id) ?? { count: 0, lastUsedAt: 0 };
    this.usage.set(key.id, { count: u.count + 1, lastUsedAt: Date.now() });
    return { accountId: key.accountId, key };
  }

  private async lookup(hash: string): Promise<ApiKeyRecord | undefined> {
    const now = Date.now();
    const hit = this.cached.get(hash);
    if (hit && hit.until > now) return hit.key;
    const key = await this.store.findApiKeyByHash(hash);
    if (key && key.kind !== 'one_time' && key.revokedAt === null) {
      if (this.cached.size >= KEY_CACHE_MAX) this.cached.clear();
      this.cached.set(hash, { key, until: now + KEY_CACHE_MS });
    } else {
      this.cached.delete(hash);
    }
    return key;
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

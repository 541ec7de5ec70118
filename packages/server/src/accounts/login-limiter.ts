import { RunletError } from '../errors.js';

export interface LoginLimits {
  /** Failures allowed for one email from one address within the window. */
  perEmail: number;
  /** Failures allowed from one address, whatever the email (guessing across users). */
  perAddress: number;
  windowMs: number;
}

const DEFAULTS: LoginLimits = { perEmail: 5, perAddress: 20, windowMs: 15 * 60_000 };
/** Bounds the memory an attacker can make this take with ever new addresses. */
const MAX_TRACKED = 50_000;

/**
 * Failed sign-ins in a sliding window, in this node's memory: behind a load balancer each node
 * counts its own, which bounds guessing to N times the limit — still a handful per minute.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly limits: LoginLimits = DEFAULTS) {}

  /** Throws LOGIN_RATE_LIMITED, with the seconds to wait, when either count is spent. */
  check(email: string, address: string, now = Date.now()): void {
    const waits = [
      this.waitMs(`e:${email}|${address}`, this.limits.perEmail, now),
      this.waitMs(`a:${address}`, this.limits.perAddress, now),
    ];
    const wait = Math.max(...waits);
    if (wait > 0) throw new RunletError('LOGIN_RATE_LIMITED', undefined, { headers: { 'retry-after': String(Math.ceil(wait / 1000)) } });
  }

  fail(email: string, address: string, now = Date.now()): void {
    for (const key of [`e:${email}|${address}`, `a:${address}`]) {
      const list = this.recent(key, now);
      list.push(now);
      this.failures.set(key, list);
    }
    if (this.failures.size > MAX_TRACKED) this.forgetOldest();
  }

  succeed(email: string, address: string): void {
    this.failures.delete(`e:${email}|${address}`);
  }

  private waitMs(key: string, limit: number, now: number): number {
    const list = this.recent(key, now);
    return list.length < limit ? 0 : list[list.length - limit]! + this.limits.windowMs - now;
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => t > now - this.limits.windowMs);
  }

  private forgetOldest(): void {
    const excess = this.failures.size - MAX_TRACKED;
    let i = 0;
    for (const key of this.failures.keys()) {
      if (i++ >= excess) break;
      this.failures.delete(key);
    }
  }
}

import { RunletError } from '../errors.js';
import { SealBrokenError, seal, unseal } from '../secrets/sealing.js';
import type { EnvVarRow, Store } from '../store/store.js';
import { auditEvent, type Actor } from './audit.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Names that change how a worker starts or that the runtime itself sets: never the account's. */
const RESERVED = new Set(['PATH', 'HOME', 'PORT', 'NODE_OPTIONS', 'NODE_PATH', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'TMPDIR', 'TZ', 'LANG']);
const MAX_VALUE_BYTES = 32 * 1024;
/** What listings show for every value: write-only once set, like a password field. */
export const MASK = '••••••••';
const KEY_CHECK = 'secret_key_check';

/** Binds a sealed value to its slot: moved to another account, service or name, it no longer opens. */
const slotOf = (accountId: string, serviceId: string | null, name: string) => `env:${accountId}/${serviceId ?? '*'}/${name}`;

export interface EnvVarView {
  name: string;
  service: string | null;
  maskedValue: string;
  updatedAt: number;
  updatedBy: string | null;
}

/**
 * An account's environment variables: sealed with AES-256-GCM under the master key before they
 * reach the store, opened only to start a worker. A change tells `onChange`, which replaces
 * the account's warm workers on every node so the next run sees the new value.
 */
export class EnvVars {
  constructor(
    private readonly store: Store,
    private readonly masterKey: Buffer,
    private readonly onChange: (accountId: string) => void,
  ) {}

  /**
   * Refuses to go on with a master key other than the one the store's values were sealed with:
   * running services without their secrets, or sealing new ones under a second key, is worse.
   */
  async checkMasterKey(): Promise<void> {
    const check = await this.store.directory.settingOr(KEY_CHECK, seal(this.masterKey, 'runlet', KEY_CHECK));
    try {
      unseal(this.masterKey, check, KEY_CHECK);
    } catch (err) {
      if (err instanceof SealBrokenError) throw new RunletError('SECRET_KEY_MISMATCH');
      throw err;
    }
  }

  async list(accountId: string, serviceId: string | null): Promise<EnvVarView[]> {
    return (await this.store.directory.listEnvVars(accountId, serviceId)).map(toView);
  }

  async set(actor: Actor, accountId: string, serviceId: string | null, name: string, value: unknown): Promise<EnvVarView> {
    checkName(name);
    if (typeof value !== 'string' || Buffer.byteLength(value) > MAX_VALUE_BYTES || value.includes('\0')) throw new RunletError('ENV_VALUE_INVALID');
    const row: EnvVarRow = { accountId, serviceId, name, sealed: seal(this.masterKey, value, slotOf(accountId, serviceId, name)), updatedAt: Date.now(), updatedBy: actor.label };
    // The audit says which variable changed, never its value.
    await this.store.directory.putEnvVar(row, auditEvent(actor, 'env.set', name, { service: serviceId }, accountId));
    this.onChange(accountId);
    return toView(row);
  }

  async remove(actor: Actor, accountId: string, serviceId: string | null, name: string): Promise<void> {
    checkName(name);
    const deleted = await this.store.directory.deleteEnvVar(accountId, serviceId, name, auditEvent(actor, 'env.delete', name, { service: serviceId }, accountId));
    if (!deleted) throw new RunletError('ENV_NOT_FOUND', `No variable "${name}" ${serviceId ? `for the service "${serviceId}"` : 'for every service'}.`);
    this.onChange(accountId);
  }

  /** The environment a worker of the service gets for the account: the service's own values win. */
  async resolve(accountId: string, serviceId: string): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    // Ordered account-wide ('' sorts first) then the service's: later entries override.
    for (const row of await this.store.directory.envVarsFor(accountId, serviceId)) {
      env[row.name] = unseal(this.masterKey, row.sealed, slotOf(row.accountId, row.serviceId, row.name));
    }
    return env;
  }

  /** Which of `required` the account has not set for the service (names only: nothing is opened). */
  async missing(accountId: string, serviceId: string, required: readonly string[]): Promise<string[]> {
    if (required.length === 0) return [];
    const set = new Set((await this.store.directory.envVarsFor(accountId, serviceId)).map((r) => r.name));
    return required.filter((name) => !set.has(name));
  }
}

function checkName(name: string): void {
  if (!NAME.test(name) || name.startsWith('RUNLET_') || RESERVED.has(name)) {
    throw new RunletError('ENV_NAME_INVALID', `"${name.slice(0, 140)}" cannot be a variable: letters, digits and _, not starting with a digit, at most 128 characters, and not RUNLET_* or ${[...RESERVED].join(', ')}.`);
  }
}

const toView = (row: EnvVarRow): EnvVarView => ({ name: row.name, service: row.serviceId, maskedValue: MASK, updatedAt: row.updatedAt, updatedBy: row.updatedBy });

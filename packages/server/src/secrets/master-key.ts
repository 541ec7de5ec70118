import { ConfigError } from '../config.js';
import { readOrCreateSecretFile } from './secret-file.js';

export const MASTER_KEY_FILE = 'secret.key';

/**
 * The key that seals environment variables: `RUNLET_SECRET_KEY` (32 bytes as 64 hex digits or
 * base64), else `<dataDir>/secret.key`, made on first start. Several nodes must share one key,
 * so a cluster sets `RUNLET_SECRET_KEY` on every node.
 */
export function loadMasterKey(configured: string | undefined, dataDir: string): Buffer {
  const text = configured ?? readOrCreateSecretFile(dataDir, MASTER_KEY_FILE);
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) throw new ConfigError('RUNLET_SECRET_KEY must be 32 bytes: 64 hex digits or 44 base64 characters (openssl rand -hex 32)');
  return key;
}

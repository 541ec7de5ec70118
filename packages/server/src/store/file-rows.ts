import type { FileStatus } from '@runlet/protocol';
import type { Row } from './rows.js';
import type { FileRow } from './types.js';

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** A `files` row (SQLite or PostgreSQL: BIGINT columns arrive as strings there) as a `FileRow`. */
export function toFile(r: Row): FileRow {
  return {
    id: String(r.id),
    accountId: String(r.account_id),
    name: String(r.name),
    status: String(r.status) as FileStatus,
    backend: String(r.backend) as FileRow['backend'],
    storageKey: String(r.storage_key),
    contentType: str(r.content_type),
    declaredSize: num(r.declared_size),
    size: num(r.size),
    sha256: str(r.sha256),
    nodeId: str(r.node_id),
    createdAt: Number(r.created_at),
    uploadExpiresAt: Number(r.upload_expires_at),
    expiresAt: Number(r.expires_at),
    uploadStartedAt: num(r.upload_started_at),
    completedAt: num(r.completed_at),
  };
}

/** The INSERT column list shared by both dialects, in `newFileValues` order. */
export const FILE_COLUMNS = 'id, account_id, name, status, backend, storage_key, content_type, declared_size, created_at, upload_expires_at, expires_at';

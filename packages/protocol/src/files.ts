import { z } from 'zod';

/**
 * A file's life: `pending` (upload URL handed out, no bytes yet) → `uploading` (one upload in
 * flight; an interrupted one goes back to `pending`) → `ready` (complete and checksummed; only
 * now is it served). Expired and deleted files are gone, not a state.
 */
export const fileStatuses = ['pending', 'uploading', 'ready'] as const;
export const FileStatus = z.enum(fileStatuses);
export type FileStatus = z.infer<typeof FileStatus>;

/** `POST /file?filename=NAME` without a body: where to PUT the bytes, and where they will be. */
export const FileUploadUrls = z.object({
  upload_uri: z.string().describe('PUT the raw bytes here, without Authorization; single use.'),
  download_uri: z.string().describe('GET the bytes here, without Authorization, once uploaded.'),
  expires_at: z.string().describe('When the file and its download URL expire (ISO 8601).'),
  upload_expires_at: z.string().describe('When the upload URL expires (ISO 8601).'),
  file_id: z.string(),
  filename: z.string(),
});
export type FileUploadUrls = z.infer<typeof FileUploadUrls>;

/** A stored file as listed by `GET /files`, and as answered after an upload. */
export const FileInfo = z.object({
  file_id: z.string(),
  filename: z.string(),
  status: FileStatus,
  size: z.number().int().nullable(),
  content_type: z.string().nullable(),
  sha256: z.string().nullable(),
  created_at: z.string(),
  completed_at: z.string().nullable(),
  expires_at: z.string(),
  download_uri: z.string().nullable().describe('A fresh signed URL, for a ready file.'),
});
export type FileInfo = z.infer<typeof FileInfo>;

export const FileList = z.object({
  files: z.array(FileInfo),
  /** Pass as `?before=` to get the next page; absent on the last one. */
  next_cursor: z.string().optional(),
});
export type FileList = z.infer<typeof FileList>;

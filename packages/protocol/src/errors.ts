/**
 * The one catalogue of runtime errors. Every error Runlet itself answers with has a stable
 * `code` here, one HTTP status and one default message; `docs/errors.md` documents each and a
 * test fails when the two drift apart. Clients branch on `code`, never on the message.
 */
export const errorCatalogue = {
  AUTH_MISSING: { status: 401, message: 'An API key is required: send "Authorization: Bearer <key>".' },
  AUTH_INVALID: { status: 401, message: 'The API key is not valid.' },
  KEY_REVOKED: { status: 401, message: 'The API key has been revoked.' },
  KEY_SPENT: { status: 403, message: 'This one-time key has been used; it can only read the run it started.' },
  SERVICE_NOT_FOUND: { status: 404, message: 'No service with that id.' },
  RUN_NOT_FOUND: { status: 404, message: 'No request with that id.' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such endpoint.' },
  PROVISION_NOT_FOUND: { status: 404, message: 'The provisioned request id is unknown or has expired.' },
  PROVISION_USED: { status: 409, message: 'The provisioned request id has already been used by a run.' },
  INVALID_REQUEST: { status: 400, message: 'The request is not valid.' },
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'This endpoint takes a JSON body.' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is larger than the configured limit.' },
  INPUT_INVALID: { status: 422, message: 'The input does not match the service input schema.' },
  QUEUE_FULL: { status: 429, message: 'Too many calls are waiting for this service; retry later.' },
  ACCOUNT_QUEUE_FULL: { status: 429, message: 'The account has as many runs queued as it may; retry later.' },
  ACCOUNT_CONCURRENCY_LIMIT: { status: 429, message: 'The account has as many runs running as it may; retry later.' },
  KEY_RATE_LIMITED: { status: 429, message: 'This API key is sending requests faster than its rate limit; retry later.' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'This Idempotency-Key was sent earlier with another request; use a new key for a new request.' },
  RUN_RESULT_PENDING: { status: 408, message: 'The run has not finished yet.' },
  SYNC_TIMEOUT: { status: 504, message: 'The run passed the synchronous time limit; it goes on, and its result will be at /result/{request_id}.' },
  WORKER_CRASHED: { status: 502, message: 'The service worker exited during the call.' },
  WORKER_START_FAILED: { status: 503, message: 'The service could not be started.' },
  RUN_TIMED_OUT: { status: 504, message: 'The run passed its time limit and was stopped.' },
  RUNTIME_RESTARTED: { status: 503, message: 'The runtime restarted while this run was in flight.' },
  RUN_CANCELLED: { status: 409, message: 'The run was cancelled.' },
  RUN_ALREADY_ENDED: { status: 409, message: 'The run has already ended; there is nothing to cancel.' },
  FILENAME_MISSING: { status: 400, message: 'A file name is required: POST /file?filename=NAME.' },
  FILENAME_INVALID: { status: 400, message: 'The file name is not valid: 1 to 255 bytes, no path separators or control characters, not "." or "..".' },
  FILE_NOT_FOUND: { status: 404, message: 'No file with that id.' },
  FILE_NOT_READY: { status: 404, message: 'The file has not been uploaded yet (or its upload is still in progress).' },
  URL_INVALID: { status: 403, message: 'The signed URL is not valid: it was altered, or it was not issued by this runtime.' },
  URL_EXPIRED: { status: 403, message: 'The signed URL has expired.' },
  URL_WRONG_METHOD: { status: 405, message: 'This signed URL is for another method (PUT to an upload URL, GET a download URL).' },
  UPLOAD_URL_USED: { status: 409, message: 'This upload URL has already been used; upload URLs are single-use.' },
  UPLOAD_IN_PROGRESS: { status: 409, message: 'Another upload to this URL is in progress.' },
  UPLOAD_INCOMPLETE: { status: 400, message: 'The upload ended before the declared number of bytes arrived; nothing was stored.' },
  FILE_TOO_LARGE: { status: 413, message: 'The file is larger than the configured maximum file size.' },
  QUOTA_EXCEEDED: { status: 507, message: "The file would take the account past its storage quota; delete files or ask for a larger quota." },
  RANGE_NOT_SATISFIABLE: { status: 416, message: 'The requested byte range lies outside the file.' },
  STORAGE_UNAVAILABLE: { status: 502, message: 'The file storage did not answer as expected; retry later.' },
  SHUTTING_DOWN: { status: 503, message: 'The runtime is shutting down; retry shortly.' },
  STORE_UNAVAILABLE: { status: 503, message: 'The store cannot take this request now (disk full, or the database out of reach); nothing of it was carried out. Retry shortly.' },
  CALLBACK_URL_INVALID: { status: 400, message: 'X-Callback-Url must be an absolute http or https URL of at most 2048 characters.' },
  CALLBACK_URL_NOT_ALLOWED: { status: 403, message: 'X-Callback-Url points at an address that callbacks may not reach (private, loopback, link-local, or not on the allow-list).' },
  RETAIN_INVALID: { status: 400, message: 'X-Retain-Seconds must be a whole number of seconds, at least 1.' },
  RUN_EXPIRED: { status: 410, message: 'The run has been deleted: it passed its retention period.' },
  KEY_NOT_ALLOWED: { status: 403, message: 'A one-time key cannot do this; use a standard key of the account.' },
  DELIVERY_NOT_FOUND: { status: 404, message: 'This run has no completion webhook to deliver.' },
  KEY_EXPIRED: { status: 401, message: 'The API key has expired.' },
  KEY_SERVICE_NOT_ALLOWED: { status: 403, message: 'This key may not run that service.' },
  KEY_NOT_FOUND: { status: 404, message: 'No key with that id.' },
  ENV_MISSING: { status: 424, message: 'The service needs an environment variable that is not set.' },
  ENV_NAME_INVALID: { status: 400, message: 'Variable names are letters, digits and _, not starting with a digit, at most 128 characters, and not RUNLET_*.' },
  ENV_VALUE_INVALID: { status: 400, message: 'The value must be a string of at most 32 KiB without NUL characters.' },
  ENV_NOT_FOUND: { status: 404, message: 'No environment variable with that name in that scope.' },
  SECRET_KEY_MISMATCH: { status: 500, message: 'The master key does not open the sealed environment variables.' },
  SESSION_REQUIRED: { status: 401, message: 'Sign in first.' },
  CSRF_INVALID: { status: 403, message: "The request is missing its CSRF token: send the session's csrfToken in X-CSRF-Token." },
  LOGIN_FAILED: { status: 401, message: 'The email or password is wrong.' },
  LOGIN_RATE_LIMITED: { status: 429, message: 'Too many failed sign-ins; wait before trying again.' },
  SETUP_LINK_INVALID: { status: 403, message: 'The setup link is not valid: it expired, was used, or a newer one was printed.' },
  ADMIN_REQUIRED: { status: 403, message: 'Only an administrator can do this.' },
  EMAIL_TAKEN: { status: 409, message: 'A user with that email already exists.' },
  ACCOUNT_NOT_FOUND: { status: 404, message: 'No account with that id.' },
  INTERNAL: { status: 500, message: 'Internal runtime error.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export const errorCodes = Object.keys(errorCatalogue) as ErrorCode[];

/** The JSON body of every runtime error. `request_id` is present when a run exists. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  request_id?: string;
  details?: unknown;
}

/** Header set on every runtime error response, so a client can tell it from a service's own error. */
export const RUNTIME_ERROR_HEADER = 'x-runlet-error';

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCatalogue, value);
}

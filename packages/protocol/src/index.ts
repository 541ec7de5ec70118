export * from './errors.js';
export * from './run.js';
export * from './logs.js';
export * from './worker.js';
export * from './keys.js';
export * from './files.js';
export * from './retry.js';
export * from './webhooks.js';

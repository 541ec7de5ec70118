import { newRequestId } from '../../src/ids.js';
import type { NewRun } from '../../src/store/store.js';

/** A run to record for `accountId` in the conformance suites: an async call of `svc`, with `over` changed. */
export function newRunOf(accountId: string, over: Partial<NewRun> = {}): NewRun {
  return {
    id: newRequestId(),
    accountId,
    keyId: null,
    serviceId: 'svc',
    method: 'POST',
    path: '',
    query: null,
    mode: 'async',
    input: Buffer.from('{}'),
    inputContentType: 'application/json',
    requestHeaders: {},
    correlationId: null,
    createdAt: Date.now(),
    nodeId: 'node-a',
    ...over,
  };
}

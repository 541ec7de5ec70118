/** Scenario 4b: the runtime's resident memory when idle, and its warm workers'. */
import { descendantsOf, rssOf } from '../lib/processes.js';

export interface MemoryFigures {
  serverRssBytes: number;
  workers: number;
  workersRssBytes: number;
}

export async function measureIdleMemory(serverPid: number, settleMs: number): Promise<MemoryFigures> {
  await new Promise((r) => setTimeout(r, settleMs));
  const workers = descendantsOf(serverPid);
  return { serverRssBytes: rssOf(serverPid), workers: workers.length, workersRssBytes: workers.reduce((sum, p) => sum + rssOf(p), 0) };
}

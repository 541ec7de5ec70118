/** Scenario 3: how long a printed line takes to reach a `/logs` NDJSON reader. */
import type { BenchClient } from '../lib/client.js';
import { summarize, type Summary } from '../lib/stats.js';

export interface LogSettings {
  lines: number;
  intervalMs: number;
}

export interface LogFigures {
  via: 'stdout' | 'logger';
  received: number;
  expected: number;
  /** ms from the worker printing a line (its own timestamp) to the reader receiving it. */
  latency: Summary;
}

export async function measureLogLatency(client: BenchClient, via: 'stdout' | 'logger', settings: LogSettings): Promise<LogFigures> {
  // The service waits `delayMs` before its first line, so the reader is attached and every line is live.
  const id = await client.submit('logline', { count: settings.lines, intervalMs: settings.intervalMs, delayMs: 500, via });
  const latencies: number[] = [];
  await client.streamLogs(id, (line, receivedAt) => {
    const message = String(line.message ?? '');
    if (!message.startsWith('{"i":')) return;
    const { printedAt } = JSON.parse(message) as { printedAt: number };
    latencies.push(receivedAt - printedAt);
  });
  const record = await client.result(id);
  if (record.status !== 'completed') throw new Error(`logline run ended ${String(record.status)}: ${String(record.error)}`);
  return { via, received: latencies.length, expected: settings.lines, latency: summarize(latencies) };
}

import { isTerminal, type ServiceUsage, type UsageReport, type UsageWindow } from '@runlet/protocol';
import type { Millis, RunTiming } from '../store/store.js';

const HOUR_MS = 3_600_000;
const WINDOW_HOURS: Record<UsageWindow, number> = { day: 24, week: 24 * 7 };
/** Enough runs for stable percentiles while keeping one request's memory bounded. */
export const USAGE_MAX_RUNS = 100_000;

/** The first hour of a window ending at `now` (hours aligned to the clock, so charts line up). */
export function usageSince(window: UsageWindow, now: Millis): Millis {
  return (Math.floor(now / HOUR_MS) - WINDOW_HOURS[window] + 1) * HOUR_MS;
}

/** Per-service runs per hour, p50/p95 duration and error rate, from the runs of the window. */
export function summarizeUsage(window: UsageWindow, now: Millis, timings: readonly RunTiming[]): UsageReport {
  const since = usageSince(window, now);
  const hours = WINDOW_HOURS[window];
  const byService = new Map<string, RunTiming[]>();
  for (const t of timings) {
    if (t.serviceId === null || t.createdAt < since) continue;
    byService.set(t.serviceId, [...(byService.get(t.serviceId) ?? []), t]);
  }
  const services = [...byService.entries()]
    .map(([serviceId, runs]) => serviceUsage(serviceId, runs, since, hours))
    .sort((a, b) => b.runs - a.runs || a.serviceId.localeCompare(b.serviceId));
  return { window, since: new Date(since).toISOString(), services };
}

function serviceUsage(serviceId: string, runs: readonly RunTiming[], since: Millis, hours: number): ServiceUsage {
  const runsPerHour = new Array<number>(hours).fill(0);
  for (const r of runs) runsPerHour[Math.min(hours - 1, Math.floor((r.createdAt - since) / HOUR_MS))]! += 1;
  const ended = runs.filter((r) => isTerminal(r.status));
  const failed = ended.filter(isError).length;
  const durations = ended
    .filter((r) => r.startedAt !== null && r.completedAt !== null)
    .map((r) => r.completedAt! - r.startedAt!)
    .sort((a, b) => a - b);
  return {
    serviceId,
    runs: runs.length,
    failed,
    errorRate: ended.length === 0 ? 0 : failed / ended.length,
    p50DurationMs: percentile(durations, 0.5),
    p95DurationMs: percentile(durations, 0.95),
    runsPerHour,
  };
}

/** A run that did not end well: it failed, timed out or was cancelled, or its service answered 5xx. */
function isError(run: RunTiming): boolean {
  return run.status !== 'completed' || (run.responseStatus ?? 0) >= 500;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

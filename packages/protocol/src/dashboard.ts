import { z } from 'zod';
import { RequestRecord, RunStatus } from './run.js';

/** One service as the dashboard shows it: `GET /services`. */
export const ServiceInfo = z.object({
  id: z.string(),
  description: z.string().nullable(),
  inputSchema: z.unknown().nullable(),
  /** `typescript` for SDK services, `command` for any other program. */
  language: z.enum(['typescript', 'command']),
});
export type ServiceInfo = z.infer<typeof ServiceInfo>;

/** A service of the folder that cannot be loaded (a bad manifest, an invalid name), and why. */
export const ServiceProblem = z.object({ id: z.string(), message: z.string() });
export type ServiceProblem = z.infer<typeof ServiceProblem>;

export const ServiceList = z.object({ services: z.array(ServiceInfo), problems: z.array(ServiceProblem) });
export type ServiceList = z.infer<typeof ServiceList>;

/** `GET /runs`: newest first; `nextCursor` fetches the page after, null on the last page. */
export const RunList = z.object({ runs: z.array(RequestRecord), nextCursor: z.string().nullable() });
export type RunList = z.infer<typeof RunList>;

export const RunListQuery = z.object({
  service: z.string().max(64).optional(),
  status: RunStatus.optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: z.string().max(200).optional(),
});

/** `GET /runs/{id}`: the record with the input it was called with (text; null when binary). */
export const RunDetail = RequestRecord.extend({
  input: z.string().nullable(),
  inputContentType: z.string().nullable(),
});
export type RunDetail = z.infer<typeof RunDetail>;

export const UsageWindow = z.enum(['day', 'week']);
export type UsageWindow = z.infer<typeof UsageWindow>;

/** One service's numbers over the window; durations are milliseconds from start to end. */
export const ServiceUsage = z.object({
  serviceId: z.string(),
  runs: z.number().int(),
  failed: z.number().int(),
  errorRate: z.number().describe('ended runs that failed, timed out, were cancelled or answered 5xx, over ended runs: 0..1'),
  p50DurationMs: z.number().nullable(),
  p95DurationMs: z.number().nullable(),
  /** Runs started in each hour of the window, oldest hour first. */
  runsPerHour: z.array(z.number().int()),
});
export type ServiceUsage = z.infer<typeof ServiceUsage>;

export const UsageReport = z.object({
  window: UsageWindow,
  /** The start of the first hour in `runsPerHour`. */
  since: z.string(),
  services: z.array(ServiceUsage),
});
export type UsageReport = z.infer<typeof UsageReport>;

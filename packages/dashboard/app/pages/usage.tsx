import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { api } from '../api';
import { ErrorNote, formatDuration } from '../components/bits';
import { HourlyChart } from '../components/chart';

interface ServiceUsage {
  serviceId: string;
  runs: number;
  failed: number;
  errorRate: number;
  p50DurationMs: number | null;
  p95DurationMs: number | null;
  runsPerHour: number[];
}

export function UsagePage() {
  const [window, setWindow] = useState<'day' | 'week'>('day');
  const usage = useQuery({
    queryKey: ['usage', window],
    queryFn: () => api<{ since: string; services: ServiceUsage[] }>(`/usage?window=${window}`),
    refetchInterval: 30_000,
  });
  const series = useMemo(() => usage.data?.services.map((s) => ({ name: s.serviceId, values: s.runsPerHour })) ?? [], [usage.data]);
  return (
    <>
      <div className="row between wrap">
        <h1>Usage</h1>
        <div className="tabs" role="tablist" aria-label="Window">
          {(['day', 'week'] as const).map((w) => (
            <button key={w} role="tab" aria-selected={window === w} onClick={() => setWindow(w)}>
              Last {w}
            </button>
          ))}
        </div>
      </div>
      {usage.error && <ErrorNote error={usage.error} />}
      {usage.data && (
        <>
          <section className="card" aria-labelledby="per-hour">
            <h2 id="per-hour">Runs per hour</h2>
            {series.length ? <HourlyChart since={usage.data.since} series={series} title={`Runs per hour over the last ${window}, per service`} /> : <p className="muted">No runs in this window.</p>}
          </section>
          <div className="table-wrap card flush">
            <table>
              <caption className="sr-only">Per service</caption>
              <thead>
                <tr>
                  <th scope="col">Service</th>
                  <th scope="col">Runs</th>
                  <th scope="col">p50 duration</th>
                  <th scope="col">p95 duration</th>
                  <th scope="col">Error rate</th>
                </tr>
              </thead>
              <tbody>
                {usage.data.services.map((s) => (
                  <tr key={s.serviceId}>
                    <td>{s.serviceId}</td>
                    <td className="num">{s.runs}</td>
                    <td className="num">{formatDuration(s.p50DurationMs)}</td>
                    <td className="num">{formatDuration(s.p95DurationMs)}</td>
                    <td className="num">
                      <span className={s.errorRate > 0.05 ? 'bad' : ''}>{(s.errorRate * 100).toFixed(1)}%</span>
                      <span className="bar" aria-hidden="true">
                        <span style={{ width: `${Math.round(s.errorRate * 100)}%` }} />
                      </span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}

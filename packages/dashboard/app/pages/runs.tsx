import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { api, RUN_STATUSES } from '../api';
import { durationOf, ErrorNote, formatDuration, formatTime, StatusBadge } from '../components/bits';
import { useRunFeed, type RunPage } from '../run-feed';
import { servicesQuery } from './services';

/** How often the table reads itself again while the live feed is down: enough to watch runs move, cheap for the server. */
const POLL_MS = 2000;

export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const service = params.get('service') ?? '';
  const status = params.get('status') ?? '';
  const cursor = params.get('cursor') ?? '';
  const services = useQuery(servicesQuery);
  const query = new URLSearchParams({ limit: '50', ...(service && { service }), ...(status && { status }), ...(cursor && { cursor }) });
  const feed = useRunFeed();
  const runs = useQuery({
    queryKey: ['runs', service, status, cursor],
    queryFn: () => api<RunPage>(`/runs?${query}`),
    refetchInterval: feed === 'down' ? POLL_MS : false,
    placeholderData: keepPreviousData,
  });
  const setFilter = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    next.delete('cursor');
    setParams(next);
  };

  return (
    <>
      <div className="row between">
        <h1>Runs</h1>
        {feed === 'down' ? (
          <span className="live" title="The live feed is down: the table refreshes every 2 s">
            <span className="dot" aria-hidden="true" /> Refreshing
          </span>
        ) : (
          <span className="live" aria-label="Updating live">
            <span className="dot" aria-hidden="true" /> Live
          </span>
        )}
      </div>
      <div className="row filters">
        <label>
          Service
          <select value={service} onChange={(e) => setFilter('service', e.target.value)}>
            <option value="">All services</option>
            {services.data?.services.map((s) => (
              <option key={s.id}>{s.id}</option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => setFilter('status', e.target.value)}>
            <option value="">Any status</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </label>
      </div>
      {runs.error && <ErrorNote error={runs.error} />}
      <div className="table-wrap card flush">
        <table>
          <caption className="sr-only">Runs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Service</th>
              <th scope="col">Status</th>
              <th scope="col">Duration</th>
              <th scope="col">Started</th>
            </tr>
          </thead>
          <tbody>
            {runs.data?.runs.map((r) => (
              <tr key={r.id}>
                <td>
                  <Link className="mono" to={`/app/runs/${r.id}`}>
                    {r.id}
                  </Link>
                </td>
                <td>{r.serviceId}</td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td className="num">{formatDuration(durationOf(r))}</td>
                <td>{formatTime(r.startedAt ?? r.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {runs.data && runs.data.runs.length === 0 && <p className="empty muted">No runs match.</p>}
      </div>
      <div className="row pager">
        {cursor && (
          <button className="ghost" onClick={() => setFilter('cursor', '')}>
            Newest
          </button>
        )}
        {runs.data?.nextCursor && (
          <button className="ghost" onClick={() => setParams(new URLSearchParams({ ...Object.fromEntries(params), cursor: runs.data!.nextCursor! }))}>
            Older runs
          </button>
        )}
      </div>
    </>
  );
}

import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, errorOf, isTerminal, request, type RunDetail } from '../api';
import { durationOf, ErrorNote, formatDuration, formatTime, Json, StatusBadge } from '../components/bits';
import { LogView } from '../components/log-view';
import { useRunFeed } from '../run-feed';

/** One run: status, timings, input, output, error and live logs; cancel and re-run. */
export function RunPage() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  // While the feed is live it tells of every change of this run; polling only stands in when it is down.
  const feed = useRunFeed();
  const run = useQuery({
    queryKey: ['run', id],
    queryFn: () => api<RunDetail>(`/runs/${id}`),
    refetchInterval: (q) => (feed === 'live' || (q.state.data && isTerminal(q.state.data.status)) ? false : 1000),
  });
  const [actionError, setActionError] = useState<unknown>();

  const cancel = async () => {
    setActionError(undefined);
    try {
      await api(`/cancel/${id}`, { method: 'POST' });
      await run.refetch();
    } catch (err) {
      setActionError(err);
    }
  };
  const rerun = async (r: RunDetail) => {
    setActionError(undefined);
    try {
      // The same input, type and sub-path, in the background: its page follows live.
      const res = await request(`/run_async/${r.serviceId}${r.path ? `/${r.path}` : ''}`, {
        method: 'POST',
        body: r.input ?? undefined,
        headers: r.inputContentType ? { 'content-type': r.inputContentType } : {},
      });
      if (!res.ok) throw await errorOf(res);
      const { request_id } = (await res.json()) as { request_id: string };
      navigate(`/app/runs/${request_id}`);
    } catch (err) {
      setActionError(err);
    }
  };

  if (run.error) return <ErrorNote error={run.error} />;
  const r = run.data;
  if (!r) return <p className="muted">Loading…</p>;
  let input: unknown = r.input;
  try {
    input = r.input === null ? null : JSON.parse(r.input);
  } catch {
    // text input is shown as it is
  }
  const output = r.responseJson !== undefined ? r.responseJson : r.responseContent;

  return (
    <>
      <p className="crumbs">
        <Link to="/app/runs">Runs</Link> / <span className="mono">{r.id}</span>
      </p>
      <div className="row between wrap">
        <h1 className="row">
          <Link to={`/app/services/${r.serviceId}`}>{r.serviceId}</Link> <StatusBadge status={r.status} />
        </h1>
        <div className="row">
          {!isTerminal(r.status) && (
            <button className="danger" onClick={() => void cancel()}>
              Cancel
            </button>
          )}
          {r.serviceId && (
            <button className="ghost" onClick={() => void rerun(r)}>
              Re-run
            </button>
          )}
        </div>
      </div>
      {actionError !== undefined && <ErrorNote error={actionError} />}
      <dl className="facts card">
        <div>
          <dt>Created</dt>
          <dd>{formatTime(r.createdAt)}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{formatTime(r.startedAt)}</dd>
        </div>
        <div>
          <dt>Ended</dt>
          <dd>{formatTime(r.completedAt)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(durationOf(r))}</dd>
        </div>
        <div>
          <dt>Mode</dt>
          <dd>{r.mode ?? '—'}</dd>
        </div>
        <div>
          <dt>Attempt</dt>
          <dd>{r.attempt}</dd>
        </div>
        <div>
          <dt>HTTP</dt>
          <dd>{r.responseStatus ?? '—'}</dd>
        </div>
      </dl>
      {r.error && (
        <p className="error" role="alert">
          {r.errorCode && <strong>{r.errorCode}: </strong>}
          {r.error}
        </p>
      )}
      <div className="two-col">
        <section className="card" aria-labelledby="input-title">
          <h2 id="input-title">Input</h2>
          {input === null ? <p className="muted">No input.</p> : <Json value={input} />}
        </section>
        <section className="card" aria-labelledby="output-title">
          <h2 id="output-title">Output</h2>
          {output === null || output === undefined ? <p className="muted">{isTerminal(r.status) ? 'No output.' : 'Not finished yet.'}</p> : <Output value={output} />}
        </section>
      </div>
      <LogView runId={r.id} />
    </>
  );
}

/** JSON pretty-printed; URLs of files become links. */
function Output({ value }: { value: unknown }) {
  const urls = JSON.stringify(value).match(/https?:\/\/[^"\s]+\/files\/[^"\s]+/g) ?? [];
  return (
    <>
      <Json value={value} />
      {urls.length > 0 && (
        <ul className="links">
          {urls.map((u) => (
            <li key={u}>
              <a href={u}>Download {decodeURIComponent(u.split('?')[0]!.split('/').pop()!)}</a>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

import { useEffect, useMemo, useRef, useState } from 'react';
import { authHeaders, type LogLine } from '../api';

/**
 * A run's logs: the stored lines, then live ones as they are written, until the run ends. Read
 * with fetch (NDJSON) rather than EventSource, which cannot send an API key header.
 */
export function useLiveLogs(runId: string): { lines: LogLine[]; live: boolean } {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [live, setLive] = useState(true);
  useEffect(() => {
    const abort = new AbortController();
    let lastSeq = 0;
    setLines([]);
    setLive(true);
    void (async () => {
      // A stream that breaks (server restart, proxy timeout) is resumed after the last line seen.
      for (let attempt = 0; attempt < 20 && !abort.signal.aborted; attempt++) {
        try {
          const res = await fetch(`/logs/${runId}?format=ndjson&after_seq=${lastSeq}`, { headers: authHeaders(), signal: abort.signal, credentials: 'same-origin' });
          if (!res.ok || !res.body) break;
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) {
              setLive(false);
              return;
            }
            buffer += value;
            const parts = buffer.split('\n');
            buffer = parts.pop()!;
            const fresh = parts.filter((p) => p.trim()).map((p) => JSON.parse(p) as LogLine);
            if (fresh.length) {
              lastSeq = fresh[fresh.length - 1]!.seq;
              setLines((prev) => [...prev, ...fresh]);
            }
          }
        } catch {
          if (abort.signal.aborted) return;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      setLive(false);
    })();
    return () => abort.abort();
  }, [runId]);
  return { lines, live };
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export function LogView({ runId }: { runId: string }) {
  const { lines, live } = useLiveLogs(runId);
  const [search, setSearch] = useState('');
  const [minLevel, setMinLevel] = useState<(typeof LEVELS)[number]>('debug');
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLDivElement>(null);
  const shown = useMemo(() => {
    const needle = search.toLowerCase();
    const floor = LEVELS.indexOf(minLevel);
    return lines.filter((l) => LEVELS.indexOf(l.level) >= floor && (!needle || l.message.toLowerCase().includes(needle)));
  }, [lines, search, minLevel]);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [shown, follow]);

  return (
    <section className="card" aria-labelledby="logs-title">
      <div className="row between">
        <h2 id="logs-title">
          Logs {live && <span className="live small"><span className="dot" aria-hidden="true" /> streaming</span>}
        </h2>
        <span className="muted small">{lines.length} lines</span>
      </div>
      <div className="row filters">
        <label>
          Search
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="Filter lines" />
        </label>
        <label>
          Level
          <select value={minLevel} onChange={(e) => setMinLevel(e.target.value as (typeof LEVELS)[number])}>
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l} and above
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Auto-scroll
        </label>
      </div>
      <div className="logs" ref={box} role="log" aria-live="polite" tabIndex={0} aria-label="Log lines">
        {shown.length === 0 && <p className="muted">{live ? 'Waiting for log lines…' : 'No log lines.'}</p>}
        {shown.map((l) => (
          <div key={l.seq} className={`log log-${l.level}`}>
            <time className="muted">{l.time.slice(11, 23)}</time>
            <span className={`level level-${l.level}`}>{l.level}</span>
            <span className="msg">{l.message}</span>
          </div>
        ))}
      </div>
    </section>
  );
}

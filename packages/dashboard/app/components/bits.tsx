import { useState } from 'react';
import { messageOf } from '../auth';
import { ApiError, type RunStatus } from '../api';

export function StatusBadge({ status }: { status: RunStatus }) {
  return <span className={`badge badge-${status}`}>{status.replace('_', ' ')}</span>;
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // clipboard refused (no focus, plain http): select-and-copy still works on the text
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <button type="button" className="ghost small" onClick={() => void copy()} aria-live="polite">
      {copied ? 'Copied' : label}
    </button>
  );
}

/** An error from the API, or the plain note that this server has no such feature yet. */
export function ErrorNote({ error }: { error: unknown }) {
  if (error instanceof ApiError && error.unavailable) {
    return (
      <p className="note" role="status">
        Not available on this server: it does not have this endpoint yet.
      </p>
    );
  }
  return (
    <p className="error" role="alert">
      {messageOf(error)}
    </p>
  );
}

export function Json({ value }: { value: unknown }) {
  return <pre className="code json">{JSON.stringify(value, null, 2)}</pre>;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;
}

export function durationOf(run: { startedAt: string | null; completedAt: string | null }): number | null {
  if (!run.startedAt) return null;
  const end = run.completedAt ? Date.parse(run.completedAt) : Date.now();
  return end - Date.parse(run.startedAt);
}

export function formatTime(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A description with `backticked` words shown as code, as service authors write them. */
export function Prose({ text }: { text: string }) {
  return (
    <>
      {text.split(/(`[^`]+`)/).map((part, i) => (part.startsWith('`') && part.endsWith('`') && part.length > 2 ? <code key={i}>{part.slice(1, -1)}</code> : part))}
    </>
  );
}

import { useState, type FormEvent } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { useAuth } from '../auth';
import { ErrorNote } from '../components/bits';

/** Sign in with email and password (a session), or with an API key kept for this tab only. */
export function SignInPage() {
  const { state, signInWithKey, signInWithPassword } = useAuth();
  const navigate = useNavigate();
  const from = (useLocation().state as { from?: string } | null)?.from ?? '/app/services';
  const [mode, setMode] = useState<'key' | 'password'>('key');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  if (state.status === 'signed-in') return <Navigate to={from} replace />;

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(undefined);
    try {
      if (mode === 'key') await signInWithKey(String(form.get('key')));
      else await signInWithPassword(String(form.get('email')), String(form.get('password')));
      navigate(from, { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="auth-page" id="main">
      <form className="card auth-card" onSubmit={(e) => void submit(e)}>
        <h1>
          <span className="logo" aria-hidden="true">▲</span> Sign in to Runlet
        </h1>
        <div className="tabs" role="tablist" aria-label="How to sign in">
          <button type="button" role="tab" aria-selected={mode === 'key'} onClick={() => setMode('key')}>
            API key
          </button>
          <button type="button" role="tab" aria-selected={mode === 'password'} onClick={() => setMode('password')}>
            Email &amp; password
          </button>
        </div>
        {mode === 'key' ? (
          <label>
            API key
            <input name="key" type="password" autoComplete="off" placeholder="cwk-…" required autoFocus />
            <span className="hint">Kept in this browser tab only, and sent as a Bearer token.</span>
          </label>
        ) : (
          <>
            <label>
              Email
              <input name="email" type="email" autoComplete="username" required autoFocus />
            </label>
            <label>
              Password
              <input name="password" type="password" autoComplete="current-password" required />
            </label>
          </>
        )}
        {error !== undefined && <ErrorNote error={error} />}
        <button className="primary" type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

import { useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { api, type Session } from '../api';
import { useAuth } from '../auth';
import { ErrorNote } from '../components/bits';

/** First run: the one-time setup link `/setup?token=…` creates the first admin. */
export function SetupPage() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const { adoptSession } = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    if (form.get('password') !== form.get('confirm')) return setError(new Error('The two passwords differ.'));
    setBusy(true);
    setError(undefined);
    try {
      const session = await api<Session>('/auth/setup', { json: { token, email: form.get('email'), password: form.get('password') } });
      adoptSession(session);
      navigate('/app/services', { replace: true });
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
          <span className="logo" aria-hidden="true">▲</span> Set up Runlet
        </h1>
        <p className="muted">Create the first administrator of this server.</p>
        {!token && (
          <p className="error" role="alert">
            This page needs the setup link that Runlet printed when it first started (it ends in <code>?token=…</code>).
          </p>
        )}
        <label>
          Email
          <input name="email" type="email" autoComplete="username" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="new-password" minLength={8} required />
        </label>
        <label>
          Repeat the password
          <input name="confirm" type="password" autoComplete="new-password" minLength={8} required />
        </label>
        {error !== undefined && <ErrorNote error={error} />}
        <button className="primary" type="submit" disabled={busy || !token}>
          Create administrator
        </button>
      </form>
    </main>
  );
}

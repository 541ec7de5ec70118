import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, ApiError, currentCredentials, setCredentials, type Session } from './api';

type AuthState =
  | { status: 'checking' }
  | { status: 'signed-out' }
  | { status: 'signed-in'; via: 'key'; keyPrefix: string }
  | { status: 'signed-in'; via: 'session'; session: Session };

interface Auth {
  state: AuthState;
  signInWithKey(key: string): Promise<void>;
  signInWithPassword(email: string, password: string): Promise<void>;
  adoptSession(session: Session): void;
  signOut(): Promise<void>;
}

const AuthContext = createContext<Auth | undefined>(undefined);

/** Tries the session cookie first (GET /auth/session), then a key kept for this tab. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>({ status: 'checking' });

  const adoptSession = useCallback((session: Session) => {
    setCredentials({ csrfToken: session.csrfToken });
    setState({ status: 'signed-in', via: 'session', session });
  }, []);

  const signInWithKey = useCallback(async (key: string) => {
    setCredentials({ key: key.trim() });
    try {
      // Any account-wide read proves the key: a wrong one answers 401, a one-time key 403.
      await api('/runs?limit=1');
      setState({ status: 'signed-in', via: 'key', keyPrefix: key.trim().slice(0, 12) });
    } catch (err) {
      setCredentials({});
      throw err;
    }
  }, []);

  const signInWithPassword = useCallback(
    async (email: string, password: string) => {
      const session = await api<Session>('/auth/login', { json: { email, password } });
      adoptSession(session);
    },
    [adoptSession],
  );

  const signOut = useCallback(async () => {
    if (currentCredentials().csrfToken) await api('/auth/logout', { method: 'POST' }).catch(() => undefined);
    setCredentials({});
    setState({ status: 'signed-out' });
  }, []);

  useEffect(() => {
    void (async () => {
      try {
        adoptSession(await api<Session>('/auth/session'));
        return;
      } catch {
        // no session (401), or a server without sign-in (404): fall back to a key
      }
      const key = currentCredentials().key;
      if (key) {
        try {
          await signInWithKey(key);
          return;
        } catch {
          // the key was revoked meanwhile
        }
      }
      setState({ status: 'signed-out' });
    })();
  }, [adoptSession, signInWithKey]);

  return <AuthContext.Provider value={{ state, signInWithKey, signInWithPassword, adoptSession, signOut }}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error('useAuth outside AuthProvider');
  return auth;
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.unavailable ? 'Not available on this server.' : `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}

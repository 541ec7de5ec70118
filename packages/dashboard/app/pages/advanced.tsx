import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api';
import { CopyButton, ErrorNote, formatTime } from '../components/bits';
import { servicesQuery } from './services';

interface Key {
  id: string;
  name: string | null;
  kind: 'standard' | 'one_time';
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  useCount: number;
  expiresAt: string | null;
  spentAt: string | null;
  revokedAt: string | null;
}
interface Variable {
  name: string;
  service: string | null;
  maskedValue: string;
  updatedAt: string;
}

/** Advanced → API keys & Environment variables. */
export function AdvancedPage() {
  return (
    <>
      <h1>API keys &amp; Environment variables</h1>
      <Keys />
      <EnvVars />
    </>
  );
}

function Keys() {
  const client = useQueryClient();
  const keys = useQuery({ queryKey: ['keys'], queryFn: () => api<{ keys: Key[] }>('/keys') });
  const [secret, setSecret] = useState<{ name: string; secret: string }>();
  const create = useMutation({
    mutationFn: (v: { name: string; kind: 'standard' | 'one_time' }) => api<{ key: Key; secret: string }>('/keys', { json: v }),
    onSuccess: (r) => {
      setSecret({ name: r.key.name ?? r.key.prefix, secret: r.secret });
      void client.invalidateQueries({ queryKey: ['keys'] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api(`/keys/${id}`, { method: 'DELETE' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['keys'] }),
  });
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    create.mutate({ name: String(form.get('name')), kind: form.get('kind') === 'one_time' ? 'one_time' : 'standard' });
  };
  const unavailable = keys.error instanceof ApiError && keys.error.unavailable;
  return (
    <section className="card" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <p className="muted">Applications call services with these. A one-time key starts a single run, then can only read that run.</p>
      {keys.error && <ErrorNote error={keys.error} />}
      {!unavailable && (
        <form className="row wrap end" onSubmit={submit} aria-label="Create a key">
          <label>
            Name
            <input name="name" required maxLength={100} placeholder="production backend" />
          </label>
          <label>
            Kind
            <select name="kind">
              <option value="standard">Standard (reusable)</option>
              <option value="one_time">One-time</option>
            </select>
          </label>
          <button className="primary" type="submit" disabled={create.isPending}>
            Create key
          </button>
        </form>
      )}
      {create.error && <ErrorNote error={create.error} />}
      {secret && (
        <div className="secret" role="status">
          <p>
            <strong>{secret.name}</strong>: copy this key now; it will not be shown again.
          </p>
          <div className="row">
            <code className="mono" data-testid="new-secret">
              {secret.secret}
            </code>
            <CopyButton text={secret.secret} />
            <button className="ghost small" onClick={() => setSecret(undefined)}>
              Done
            </button>
          </div>
        </div>
      )}
      {revoke.error && <ErrorNote error={revoke.error} />}
      {keys.data && (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Kind</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Uses</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.keys.map((k) => (
                <tr key={k.id}>
                  <td>{k.name ?? '—'}</td>
                  <td className="mono">{k.prefix}…</td>
                  <td>{k.kind === 'one_time' ? (k.spentAt ? 'one-time, spent' : 'one-time') : 'standard'}</td>
                  <td>{formatTime(k.createdAt)}</td>
                  <td>{formatTime(k.lastUsedAt)}</td>
                  <td className="num">{k.useCount}</td>
                  <td className="actions">
                    {k.revokedAt ? (
                      <span className="muted">revoked</span>
                    ) : (
                      <button className="danger small" onClick={() => confirm(`Revoke ${k.name ?? k.prefix}? Calls with it will be refused.`) && revoke.mutate(k.id)}>
                        Revoke<span className="sr-only"> {k.name ?? k.prefix}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function EnvVars() {
  const client = useQueryClient();
  const services = useQuery(servicesQuery);
  const [scope, setScope] = useState('');
  const vars = useQuery({ queryKey: ['env', scope], queryFn: () => api<{ variables: Variable[] }>(`/env${scope ? `?service=${encodeURIComponent(scope)}` : ''}`) });
  const [editing, setEditing] = useState<string>();
  const save = useMutation({
    mutationFn: (v: { name: string; value: string; service?: string }) => api(`/env/${encodeURIComponent(v.name)}`, { method: 'PUT', json: { value: v.value, ...(v.service && { service: v.service }) } }),
    onSuccess: () => {
      setEditing(undefined);
      void client.invalidateQueries({ queryKey: ['env'] });
    },
  });
  const remove = useMutation({
    mutationFn: (v: Variable) => api(`/env/${encodeURIComponent(v.name)}${v.service ? `?service=${encodeURIComponent(v.service)}` : ''}`, { method: 'DELETE' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['env'] }),
  });
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    save.mutate({ name: String(form.get('name')), value: String(form.get('value')), service: scope || undefined });
    e.currentTarget.reset();
  };
  const unavailable = vars.error instanceof ApiError && vars.error.unavailable;
  return (
    <section className="card" aria-labelledby="env-title">
      <h2 id="env-title">Environment variables</h2>
      <p className="muted">Secrets reach services as environment variables of their workers; values are encrypted and never shown again.</p>
      {vars.error && <ErrorNote error={vars.error} />}
      {!unavailable && (
        <>
          <label className="inline">
            Scope
            <select value={scope} onChange={(e) => setScope(e.target.value)}>
              <option value="">Every service</option>
              {services.data?.services.map((s) => (
                <option key={s.id}>{s.id}</option>
              ))}
            </select>
          </label>
          <form className="row wrap end" onSubmit={submit} aria-label={editing ? `New value for ${editing}` : 'Add a variable'}>
            <label>
              Name
              <input name="name" required pattern="[A-Za-z_][A-Za-z0-9_]*" defaultValue={editing} key={editing} readOnly={!!editing} />
            </label>
            <label>
              Value
              <input name="value" type="password" required autoComplete="off" />
            </label>
            <button className="primary" type="submit" disabled={save.isPending}>
              {editing ? 'Save' : 'Add variable'}
            </button>
            {editing && (
              <button type="button" className="ghost" onClick={() => setEditing(undefined)}>
                Cancel
              </button>
            )}
          </form>
        </>
      )}
      {save.error && <ErrorNote error={save.error} />}
      {remove.error && <ErrorNote error={remove.error} />}
      {vars.data && (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Variables</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Value</th>
                <th scope="col">Service</th>
                <th scope="col">Updated</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {vars.data.variables.map((v) => (
                <tr key={`${v.service}/${v.name}`}>
                  <td className="mono">{v.name}</td>
                  <td className="mono muted">{v.maskedValue}</td>
                  <td>{v.service ?? 'every service'}</td>
                  <td>{formatTime(v.updatedAt)}</td>
                  <td className="actions">
                    <button className="ghost small" onClick={() => setEditing(v.name)}>
                      Edit<span className="sr-only"> {v.name}</span>
                    </button>
                    <button className="danger small" onClick={() => confirm(`Delete ${v.name}?`) && remove.mutate(v)}>
                      Delete<span className="sr-only"> {v.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

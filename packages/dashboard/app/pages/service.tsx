import { useQuery } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router';
import { api, errorOf, request, type Service } from '../api';
import { ErrorNote, Json, Prose } from '../components/bits';
import { formable, initialValues, SchemaForm } from '../components/schema-form';
import { Snippets } from '../components/snippets';
import { servicesQuery } from './services';

type Answer = { kind: 'sync'; status: number; requestId: string | null; body: unknown } | { kind: 'async'; requestId: string };

/** One service: its description and schema, a Run form (or JSON), and code snippets. */
export function ServicePage() {
  const { id = '' } = useParams();
  const { data, error } = useQuery(servicesQuery);
  const service = data?.services.find((s) => s.id === id);
  if (error) return <ErrorNote error={error} />;
  if (!data) return <p className="muted">Loading…</p>;
  if (!service) return <p className="error">No service “{id}”.</p>;
  return <ServiceView key={service.id} service={service} />;
}

function ServiceView({ service }: { service: Service }) {
  const schema = service.inputSchema;
  const canForm = formable(schema);
  const [useJson, setUseJson] = useState(!canForm);
  const [values, setValues] = useState<Record<string, unknown>>(canForm ? initialValues(schema) : {});
  const [text, setText] = useState(JSON.stringify(values, null, 2));
  const [mode, setMode] = useState<'sync' | 'async'>('sync');
  const [answer, setAnswer] = useState<Answer>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!useJson) setText(JSON.stringify(values, null, 2));
  }, [values, useJson]);

  const input = (): unknown => (useJson ? JSON.parse(text) : values);

  const run = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setAnswer(undefined);
    let body: unknown;
    try {
      body = input();
    } catch {
      return setError(new Error('The input is not valid JSON.'));
    }
    setBusy(true);
    try {
      if (mode === 'async') {
        const { request_id } = await api<{ request_id: string }>(`/run_async/${service.id}`, { json: body });
        setAnswer({ kind: 'async', requestId: request_id });
      } else {
        const res = await request(`/run/${service.id}`, { json: body });
        if (res.headers.get('x-runlet-error')) throw await errorOf(res);
        const raw = await res.text();
        let parsed: unknown = raw;
        try {
          parsed = JSON.parse(raw);
        } catch {
          // a text answer stays text
        }
        setAnswer({ kind: 'sync', status: res.status, requestId: res.headers.get('x-request-id'), body: parsed });
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  let snippetInput: unknown = values;
  try {
    snippetInput = input();
  } catch {
    // half-typed JSON: the snippets keep the last valid form values
  }

  return (
    <>
      <p className="crumbs">
        <Link to="/app/services">Services</Link> / {service.id}
      </p>
      <h1>{service.id}</h1>
      <p className="lead">{service.description ? <Prose text={service.description} /> : 'No description.'}</p>
      <div className="two-col">
        <form className="card" onSubmit={(e) => void run(e)} aria-labelledby="run-title">
          <div className="row between">
            <h2 id="run-title">Run</h2>
            {canForm && (
              <label className="check small">
                <input type="checkbox" checked={useJson} onChange={(e) => setUseJson(e.target.checked)} /> Edit as JSON
              </label>
            )}
          </div>
          {useJson || !canForm ? (
            <label>
              Input (JSON)
              <textarea className="code" rows={10} spellCheck={false} value={text} onChange={(e) => setText(e.target.value)} />
            </label>
          ) : (
            <SchemaForm schema={schema} values={values} onChange={setValues} />
          )}
          <fieldset className="row">
            <legend className="sr-only">How to run</legend>
            <label className="check">
              <input type="radio" name="mode" checked={mode === 'sync'} onChange={() => setMode('sync')} /> Wait for the answer
            </label>
            <label className="check">
              <input type="radio" name="mode" checked={mode === 'async'} onChange={() => setMode('async')} /> In the background
            </label>
          </fieldset>
          <button className="primary" type="submit" disabled={busy}>
            {busy ? 'Running…' : `Run ${service.id}`}
          </button>
          {error !== undefined && <ErrorNote error={error} />}
          {answer && (
            <section aria-label="Answer" className="answer">
              {answer.kind === 'async' ? (
                <p>
                  Started <Link to={`/app/runs/${answer.requestId}`}>{answer.requestId}</Link>.
                </p>
              ) : (
                <>
                  <p className="row between">
                    <span>
                      Answer <span className={answer.status < 400 ? 'ok' : 'bad'}>HTTP {answer.status}</span>
                    </span>
                    {answer.requestId && <Link to={`/app/runs/${answer.requestId}`}>View run</Link>}
                  </p>
                  <Json value={answer.body} />
                </>
              )}
            </section>
          )}
        </form>
        <div className="stack">
          <Snippets serviceId={service.id} input={snippetInput} />
          {schema && (
            <section className="card" aria-labelledby="schema-title">
              <h2 id="schema-title">Input schema</h2>
              <Json value={schema} />
            </section>
          )}
        </div>
      </div>
    </>
  );
}

import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, type Service, type ServiceProblem } from '../api';
import { ErrorNote, Prose } from '../components/bits';

export const servicesQuery = { queryKey: ['services'], queryFn: () => api<{ services: Service[]; problems: ServiceProblem[] }>('/services') };

export function ServicesPage() {
  const { data, error, isPending } = useQuery(servicesQuery);
  return (
    <>
      <h1>Services</h1>
      {isPending && <p className="muted">Loading services…</p>}
      {error && <ErrorNote error={error} />}
      {data && data.services.length === 0 && <p className="muted">No services yet: add one to the services folder.</p>}
      <ul className="grid">
        {data?.services.map((s) => (
          <li key={s.id} className="card service-card">
            <h2>
              <Link to={`/app/services/${encodeURIComponent(s.id)}`}>{s.id}</Link>
            </h2>
            <p className="muted">{s.description ? <Prose text={s.description} /> : 'No description.'}</p>
            <span className="tag">{s.language === 'typescript' ? 'TypeScript' : 'Command'}</span>
          </li>
        ))}
      </ul>
      {data && data.problems.length > 0 && (
        <section className="card" aria-labelledby="problems-title">
          <h2 id="problems-title">Cannot be loaded</h2>
          <ul className="problems">
            {data.problems.map((p) => (
              <li key={p.id}>
                <code>{p.id}</code> <span className="error-text">{p.message}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

import type { JsonSchema } from '../api';

/** Whether a schema can be shown as a form: an object whose fields are plain values. */
export function formable(schema: JsonSchema | null): schema is JsonSchema & { properties: Record<string, JsonSchema> } {
  return !!schema && schema.type === 'object' && !!schema.properties && Object.values(schema.properties).every((p) => fieldKind(p) !== 'json');
}

type FieldKind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';

function fieldKind(p: JsonSchema): FieldKind {
  if (p.enum) return 'enum';
  const type = Array.isArray(p.type) ? p.type.find((t) => t !== 'null') : p.type;
  if (type === 'string' || type === 'number' || type === 'integer' || type === 'boolean') return type;
  return 'json';
}

/** The input a schema starts from: its defaults. */
export function initialValues(schema: JsonSchema & { properties: Record<string, JsonSchema> }): Record<string, unknown> {
  return Object.fromEntries(Object.entries(schema.properties).flatMap(([k, p]) => (p.default !== undefined ? [[k, p.default]] : [])));
}

/** A form generated from an object schema; values change through `onChange` as typed values. */
export function SchemaForm({ schema, values, onChange }: { schema: JsonSchema & { properties: Record<string, JsonSchema> }; values: Record<string, unknown>; onChange(v: Record<string, unknown>): void }) {
  const required = new Set(schema.required ?? []);
  const set = (name: string, value: unknown) => {
    const next = { ...values };
    if (value === undefined) delete next[name];
    else next[name] = value;
    onChange(next);
  };
  return (
    <div className="fields">
      {Object.entries(schema.properties).map(([name, p]) => {
        const id = `field-${name}`;
        const kind = fieldKind(p);
        const hint = [p.description, p.minimum !== undefined ? `min ${p.minimum}` : '', p.maximum !== undefined ? `max ${p.maximum}` : ''].filter(Boolean).join(' · ');
        const label = (
          <span>
            {name}
            {required.has(name) && p.default === undefined ? <span aria-hidden="true"> *</span> : null} <span className="muted small">{kind}</span>
          </span>
        );
        if (kind === 'boolean') {
          return (
            <label key={name} className="check" htmlFor={id}>
              <input id={id} type="checkbox" checked={values[name] === true} onChange={(e) => set(name, e.target.checked)} />
              {label}
            </label>
          );
        }
        return (
          <label key={name} htmlFor={id}>
            {label}
            {kind === 'enum' ? (
              <select id={id} value={String(values[name] ?? '')} onChange={(e) => set(name, p.enum!.find((v) => String(v) === e.target.value))}>
                <option value="">—</option>
                {p.enum!.map((v) => (
                  <option key={String(v)}>{String(v)}</option>
                ))}
              </select>
            ) : (
              <input
                id={id}
                type={kind === 'string' ? 'text' : 'number'}
                step={kind === 'integer' ? 1 : 'any'}
                required={required.has(name) && p.default === undefined}
                value={values[name] === undefined ? '' : String(values[name])}
                onChange={(e) => set(name, e.target.value === '' ? undefined : kind === 'string' ? e.target.value : Number(e.target.value))}
              />
            )}
            {hint && <span className="hint">{hint}</span>}
          </label>
        );
      })}
    </div>
  );
}

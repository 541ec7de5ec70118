import { useState } from 'react';
import { CopyButton } from './bits';

/** Ready-to-run calls of one service from curl, TypeScript and Python, for this server. */
export function Snippets({ serviceId, input }: { serviceId: string; input: unknown }) {
  const base = window.location.origin;
  const body = JSON.stringify(input ?? {});
  const snippets = {
    curl: `curl -X POST ${base}/run/${serviceId} \\
  -H "Authorization: Bearer $RUNLET_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '${body.replace(/'/g, "'\\''")}'`,
    TypeScript: `const res = await fetch("${base}/run/${serviceId}", {
  method: "POST",
  headers: {
    Authorization: \`Bearer \${process.env.RUNLET_API_KEY}\`,
    "Content-Type": "application/json",
  },
  body: JSON.stringify(${body}),
});
console.log(await res.json());`,
    Python: `import json, os, urllib.request

req = urllib.request.Request(
    "${base}/run/${serviceId}",
    data=json.dumps(${body}).encode(),
    headers={
        "Authorization": "Bearer " + os.environ["RUNLET_API_KEY"],
        "Content-Type": "application/json",
    },
)
print(json.load(urllib.request.urlopen(req)))`,
  };
  const [tab, setTab] = useState<keyof typeof snippets>('curl');
  return (
    <section className="card" aria-labelledby="snippets-title">
      <div className="row between">
        <h2 id="snippets-title">Call it from code</h2>
        <CopyButton text={snippets[tab]} />
      </div>
      <div className="tabs" role="tablist" aria-label="Language">
        {(Object.keys(snippets) as (keyof typeof snippets)[]).map((k) => (
          <button key={k} type="button" role="tab" aria-selected={tab === k} onClick={() => setTab(k)}>
            {k}
          </button>
        ))}
      </div>
      <pre className="code" tabIndex={0} aria-label={`${tab} snippet`}>
        {snippets[tab]}
      </pre>
    </section>
  );
}

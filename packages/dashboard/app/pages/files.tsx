import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api';
import { ErrorNote, formatTime } from '../components/bits';

interface FileInfo {
  file_id: string;
  filename: string;
  status: string;
  size: number | null;
  content_type: string | null;
  created_at: string;
  expires_at: string;
  download_uri: string | null;
}

export function formatBytes(n: number | null): string {
  if (n === null) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) [v, i] = [v / 1024, i + 1];
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** The account's uploaded files: download (fresh signed URL) and delete. */
export function FilesPage() {
  const client = useQueryClient();
  const files = useQuery({ queryKey: ['files'], queryFn: () => api<{ files: FileInfo[] }>('/files?limit=200') });
  const remove = useMutation({
    mutationFn: (id: string) => api(`/files/${id}`, { method: 'DELETE' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['files'] }),
  });
  return (
    <>
      <h1>Files</h1>
      <p className="lead">Files uploaded with <code>POST /file</code> or by services, until they expire.</p>
      {files.error && <ErrorNote error={files.error} />}
      {remove.error && <ErrorNote error={remove.error} />}
      <div className="table-wrap card flush">
        <table>
          <caption className="sr-only">Files, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Size</th>
              <th scope="col">Status</th>
              <th scope="col">Uploaded</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {files.data?.files.map((f) => (
              <tr key={f.file_id}>
                <td>{f.download_uri ? <a href={f.download_uri}>{f.filename}</a> : f.filename}</td>
                <td className="num">{formatBytes(f.size)}</td>
                <td>{f.status}</td>
                <td>{formatTime(f.created_at)}</td>
                <td>{formatTime(f.expires_at)}</td>
                <td className="actions">
                  {f.download_uri && (
                    <a className="button ghost small" href={f.download_uri} download>
                      Download<span className="sr-only"> {f.filename}</span>
                    </a>
                  )}
                  <button className="danger small" onClick={() => confirm(`Delete ${f.filename}?`) && remove.mutate(f.file_id)}>
                    Delete<span className="sr-only"> {f.filename}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {files.data && files.data.files.length === 0 && <p className="empty muted">No files.</p>}
      </div>
    </>
  );
}

import { connect, type Socket } from 'node:net';
import type { FileUploadUrls } from '@runlet/protocol';
import type { TestServer } from '../helpers.js';

/** `POST /file?filename=` and its two URLs. */
export async function newUpload(t: TestServer, filename: string, query = ''): Promise<FileUploadUrls> {
  const response = await t.fetch(`/file?filename=${encodeURIComponent(filename)}${query}`, { method: 'POST' });
  if (response.status !== 200) throw new Error(`POST /file answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as FileUploadUrls;
}

/** PUT as the official clients do: raw bytes, `x-amz-acl`, no Authorization. */
export function putBytes(url: string, body: string | Uint8Array<ArrayBuffer>, contentType = 'application/octet-stream'): Promise<Response> {
  return fetch(url, { method: 'PUT', body, headers: { 'content-type': contentType, 'x-amz-acl': 'public-read' } });
}

/**
 * A PUT written by hand on a raw socket: the headers and `sent` of the body, then the socket
 * stays open for the test to finish (`rest`, which waits for the answer and the close that
 * `Connection: close` asks for) or cut (`cut`), as a client that disconnects.
 */
export async function partialPut(url: string, declaredLength: number, sent: Buffer): Promise<{ socket: Socket; rest(bytes: Buffer): Promise<string>; cut(): void }> {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let answer = '';
  socket.on('data', (c) => (answer += c.toString('latin1')));
  socket.on('error', () => {});
  socket.write(`PUT ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${declaredLength}\r\n\r\n`);
  socket.write(sent);
  return {
    socket,
    // Not `end()`: Node's server takes a half-closed socket for an aborted request.
    rest: async (bytes) => {
      socket.write(bytes);
      await new Promise((r) => socket.once('close', r));
      return answer;
    },
    cut: () => socket.destroy(),
  };
}

/** The HTTP status of a raw answer. */
export function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
}

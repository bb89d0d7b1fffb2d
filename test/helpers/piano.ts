// Piano webhooks as Piano sends them (encrypted with the application's private key), and a local stand-in
// for Piano's REST API (`code != 0` errors on HTTP 200, offset/limit pages).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { encryptPianoData } from '../../src/inbound/piano/crypto.js';

export function pianoData(payload: Record<string, unknown>, privateKey: string): string {
  return encryptPianoData(JSON.stringify(payload), privateKey);
}

export async function sendPiano(
  baseUrl: string,
  workspaceId: string,
  data: string,
  how: 'GET' | 'POST form' | 'POST json' = 'GET',
): Promise<{ status: number; body: any }> {
  const url = `${baseUrl}/webhooks/piano/${workspaceId}`;
  const res =
    how === 'GET'
      ? await fetch(`${url}?data=${encodeURIComponent(data)}`)
      : how === 'POST form'
        ? await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ data }),
          })
        : await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data }) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export interface PianoApiStandIn {
  url: URL;
  requests: { path: string; params: URLSearchParams }[];
  /** Answers by path; default `{code: 0}`. */
  answer: (path: string, params: URLSearchParams) => Record<string, unknown>;
  close(): Promise<void>;
}

export async function startPianoApi(): Promise<PianoApiStandIn> {
  const standIn = { requests: [], answer: () => ({ code: 0 }) } as unknown as PianoApiStandIn;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://stand-in');
      const params = new URLSearchParams(raw || u.search);
      const path = u.pathname.replace(/^\/api\/v3/, '');
      standIn.requests.push({ path, params });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(standIn.answer(path, params)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  standIn.url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v3`);
  standIn.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return standIn;
}

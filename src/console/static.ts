// The console's assets, read once at start and served from memory: our own CSS and script from
// src/console/assets (shipped in the package), htmx, its SSE extension and uPlot from node_modules. Nothing is
// fetched from a CDN: self-hosted consoles are often offline or behind strict egress rules.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const require = createRequire(import.meta.url);
// Resolves from both src/console (tsx) and dist/console (compiled): the assets are not copied.
const OWN = fileURLToPath(new URL('../../src/console/assets/', import.meta.url));

const SOURCES: Record<string, string> = {
  'console.css': `${OWN}console.css`,
  'console.js': `${OWN}console.js`,
  'charts.js': `${OWN}charts.js`,
  'workflow-editor.js': `${OWN}workflow-editor.js`,
  'favicon.svg': `${OWN}favicon.svg`,
  'htmx.min.js': require.resolve('htmx.org/dist/htmx.min.js'),
  'htmx-sse.js': require.resolve('htmx-ext-sse/dist/sse.min.js'),
  'uplot.js': require.resolve('uplot/dist/uPlot.iife.min.js'),
  'uplot.css': require.resolve('uplot/dist/uPlot.min.css'),
};

const TYPES: Record<string, string> = {
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
};

interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
}

function load(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, file] of Object.entries(SOURCES)) {
    const body = readFileSync(file);
    assets.set(name, {
      body,
      gzip: gzipSync(body, { level: 9 }),
      type: TYPES[name.split('.').pop()!] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
    });
  }
  return assets;
}

/** Bytes of every asset, raw and gzipped: what the closing notes and docs report as the console's weight. */
export function assetWeight(): { name: string; bytes: number; gzipBytes: number }[] {
  return [...load()].map(([name, a]) => ({ name, bytes: a.body.length, gzipBytes: a.gzip.length }));
}

export function serveAssets(app: FastifyInstance): void {
  const assets = load();
  app.get<{ Params: { name: string } }>('/assets/:name', async (request, reply) => {
    const asset = assets.get(request.params.name);
    if (!asset) return reply.status(404).type('text/plain; charset=utf-8').send('no such asset');
    reply.header('etag', asset.etag).header('cache-control', 'public, max-age=300').header('x-content-type-options', 'nosniff');
    if (request.headers['if-none-match'] === asset.etag) return reply.status(304).send();
    reply.type(asset.type);
    if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
      return reply.header('content-encoding', 'gzip').header('vary', 'accept-encoding').send(asset.gzip);
    }
    return reply.send(asset.body);
  });
}

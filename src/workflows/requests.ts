// The HTTP request of an external step (http, slack, discord), built from its rendered (frozen) input, and how
// an answer is judged: success, retryable (408, 429, 5xx, no answer), or final. Pure.
import type { RetryPolicy } from './definition.js';

export type Method = 'POST' | 'GET' | 'PUT' | 'PATCH' | 'DELETE';

export interface StepRequest {
  method: Method;
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number | null;
  /** Status codes that count as success; null: any 2xx. */
  expect: number[] | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export class RequestInputError extends Error {}

function checkUrl(raw: unknown, field: string): URL {
  if (typeof raw !== 'string') throw new RequestInputError(`${field} rendered to ${JSON.stringify(raw)}, not a URL`);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new RequestInputError(`${field} is not a valid URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RequestInputError(`${field} must be http:// or https://`);
  return u;
}

/** A header name as HTTP defines it (a token). */
export const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Headers that frame the message or manage the connection: the HTTP client sets them, and refuses them from a step. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
]);
// What a header value cannot hold: a line break would end it, other control characters are refused by the client.
// eslint-disable-next-line no-control-regex
const BAD_HEADER_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** Why a header name cannot be sent, or undefined. */
export function headerNameProblem(name: string): string | undefined {
  if (!HEADER_NAME.test(name)) return `${JSON.stringify(name)} is not a header name (letters, digits and !#$%&'*+-.^_\`|~, no spaces)`;
  if (RESERVED_HEADERS.has(name.toLowerCase())) return `${name} is set by Sluice's HTTP client and cannot be given`;
  return undefined;
}

/** Why a header value cannot be sent (never quoting the value: it may hold a secret), or undefined. */
export function headerValueProblem(value: string): string | undefined {
  return BAD_HEADER_VALUE.test(value) ? 'has a line break or another control character, which a header cannot carry' : undefined;
}

/** The request of an external step; `idempotencyKey` is `<runId>:<stepId>`, the same on every attempt. */
export function buildStepRequest(kind: string, input: unknown, idempotencyKey: string): StepRequest {
  const i = isObj(input) ? input : {};
  const json = { 'content-type': 'application/json', 'user-agent': 'Sluice-Workflows', 'idempotency-key': idempotencyKey };
  if (kind === 'http') {
    const url = checkUrl(i.url, 'url');
    if (isObj(i.query))
      for (const [k, v] of Object.entries(i.query)) url.searchParams.append(k, typeof v === 'string' ? v : JSON.stringify(v));
    const method = (typeof i.method === 'string' ? i.method : 'POST') as Method;
    const headers: Record<string, string> = { ...json };
    if (isObj(i.headers))
      for (const [k, v] of Object.entries(i.headers)) {
        // Checked here too (a value rendered from event data, a definition saved before names were checked): the
        // request could never be sent, so the step fails at once rather than being retried as "no answer".
        const value = typeof v === 'string' ? v : String(v);
        const problem = headerNameProblem(k) ?? headerValueProblem(value);
        if (problem) throw new RequestInputError(`header ${HEADER_NAME.test(k) ? k : JSON.stringify(k)}: ${problem}`);
        headers[k.toLowerCase()] = value;
      }
    headers['idempotency-key'] = idempotencyKey;
    const hasBody = i.body !== undefined && method !== 'GET';
    if (!hasBody) delete headers['content-type'];
    const expect = i.expect === undefined ? null : (Array.isArray(i.expect) ? i.expect : [i.expect]).map(Number);
    return {
      method,
      url: url.toString(),
      headers,
      body: hasBody ? JSON.stringify(i.body) : '',
      timeoutMs: typeof i.timeoutMs === 'number' ? i.timeoutMs : null,
      expect,
    };
  }
  if (kind === 'slack') {
    const url = checkUrl(i.webhook, 'webhook');
    return {
      method: 'POST',
      url: url.toString(),
      headers: json,
      body: JSON.stringify({ text: i.text, ...(i.blocks !== undefined ? { blocks: i.blocks } : {}) }),
      timeoutMs: null,
      expect: null,
    };
  }
  if (kind === 'discord') {
    const url = checkUrl(i.webhook, 'webhook');
    // wait=true: Discord answers with the created message (and an error status when it was not posted).
    url.searchParams.set('wait', 'true');
    return {
      method: 'POST',
      url: url.toString(),
      headers: json,
      body: JSON.stringify({ content: i.content, ...(i.embeds !== undefined ? { embeds: i.embeds } : {}) }),
      timeoutMs: null,
      expect: null,
    };
  }
  throw new RequestInputError(`${kind} is not an external step`);
}

export function isSuccess(req: Pick<StepRequest, 'expect'>, status: number): boolean {
  return req.expect ? req.expect.includes(status) : status >= 200 && status < 300;
}

/** 408, 429 and 5xx are worth another attempt; other answers are final. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Retry-After (seconds or an HTTP date) in seconds, or null. */
export function retryAfterSeconds(value: string | undefined, now: number): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : Math.max(0, (t - now) / 1000);
}

const HOUR = 3600;

/** Seconds before the next attempt after `attempt` failed attempts. */
export function retryDelaySeconds(policy: RetryPolicy, attempt: number, baseMs: number, retryAfter: number | null): number {
  const base = baseMs / 1000;
  const backoff = policy.backoff === 'fixed' ? base : base * 2 ** Math.max(0, attempt - 1);
  const jittered = Math.min(HOUR, backoff) * (0.9 + Math.random() * 0.2);
  return Math.min(HOUR, Math.max(jittered, retryAfter ?? 0));
}

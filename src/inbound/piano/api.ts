// Piano's REST API (v3): one base URL per region, `aid` + `api_token` as parameters, and errors signalled by
// `code != 0` in the JSON even on HTTP 200. Lists page with offset/limit and report `total`. The base can be
// overridden (SLUICE_PIANO_API_URL) so tests point it at a local stand-in. Outcomes are values.
export const PIANO_REGIONS = ['us', 'eu', 'ap', 'au', 'sandbox'] as const;
export type PianoRegion = (typeof PIANO_REGIONS)[number];

const BASES: Record<PianoRegion, string> = {
  us: 'https://api.piano.io/api/v3',
  eu: 'https://api-eu.piano.io/api/v3',
  ap: 'https://api-ap.piano.io/api/v3',
  au: 'https://api-au.piano.io/api/v3',
  sandbox: 'https://sandbox.piano.io/api/v3',
};

export interface PianoApiOptions {
  aid: string;
  apiToken: string;
  region: PianoRegion;
  /** Replaces the region's base URL (a local stand-in in tests). */
  baseUrl?: URL | undefined;
  timeoutMs?: number;
}

export type PianoApiResult<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      error: string;
      code: number | null;
      /** The HTTP status when Piano answered (429 asks to slow down). */
      status?: number;
      /** Retry-After in seconds, when Piano said. */
      retryAfterSeconds?: number;
    };

export class PianoApiClient {
  private readonly base: string;
  constructor(private readonly opts: PianoApiOptions) {
    this.base = (opts.baseUrl?.href ?? BASES[opts.region]).replace(/\/+$/, '');
  }

  async call<T extends Record<string, unknown>>(path: string, params: Record<string, string | number> = {}): Promise<PianoApiResult<T>> {
    const body = new URLSearchParams({ aid: this.opts.aid, api_token: this.opts.apiToken });
    for (const [k, v] of Object.entries(params)) body.set(k, String(v));
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 15_000),
      });
    } catch (err) {
      return { ok: false, error: `Piano API unreachable: ${(err as Error).message}`, code: null };
    }
    const retryAfter = Number(res.headers.get('retry-after') ?? Number.NaN);
    const http = { status: res.status, ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}) };
    let json: Record<string, unknown>;
    try {
      json = (await res.json()) as Record<string, unknown>;
    } catch {
      return { ok: false, error: `Piano API answered ${res.status} without JSON`, code: null, ...http };
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      return { ok: false, error: `Piano API answered ${res.status} with JSON that is not an object`, code: null, ...http };
    }
    const code = Number(json.code ?? (res.ok ? 0 : -1));
    if (!res.ok || code !== 0) {
      const message = typeof json.message === 'string' ? json.message : `HTTP ${res.status}`;
      return { ok: false, error: `Piano API error ${code}: ${message}`, code, ...http };
    }
    return { ok: true, value: json as T };
  }

  /** Every page of a list, `key` naming the array in each answer; bounded so a runaway total cannot loop forever. */
  async listAll<T>(
    path: string,
    key: string,
    params: Record<string, string | number> = {},
    maxItems = 10_000,
  ): Promise<PianoApiResult<T[]>> {
    const items: T[] = [];
    const limit = 100;
    for (let offset = 0; offset < maxItems;) {
      const page = await this.call<Record<string, unknown>>(path, { ...params, offset, limit });
      if (!page.ok) return page;
      const batch = Array.isArray(page.value[key]) ? (page.value[key] as T[]) : [];
      items.push(...batch);
      // A page shorter than asked is the end only when the answer has no total: an API that caps the page size
      // answers fewer than the limit while more follow.
      const total = Number(page.value.total);
      if (batch.length === 0 || (Number.isFinite(total) ? offset + batch.length >= total : batch.length < limit)) break;
      offset += batch.length;
    }
    return { ok: true, value: items };
  }

  /** A user's accesses (`/publisher/user/access/list`): used to confirm an access really ended before revoking it. */
  userAccesses(uid: string): Promise<PianoApiResult<PianoAccess[]>> {
    return this.listAll<PianoAccess>('/publisher/user/access/list', 'accesses', { uid });
  }
}

export interface PianoAccess {
  access_id: string;
  granted: boolean;
  revoked?: boolean;
  resource?: { rid?: string; name?: string };
  expire_date?: number | null;
  start_date?: number | null;
}

// The only reader of process.env. Everything is validated at boot and every problem is listed at once,
// so an operator fixes a bad environment in one go instead of one restart per typo.
import { isIP } from 'node:net';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { parse as parseConnectionString } from 'pg-connection-string';
import { parseCidrs, type Cidr } from './lib/cidr.js';

export type Role = 'all' | 'api' | 'worker';

export interface Config {
  /** PORT, default 8080. */
  port: number;
  /** HOST, default 127.0.0.1 (loopback only until the operator opts in). */
  host: string;
  /** SLUICE_DATA_DIR, default ./data: embedded database files and the generated master key. */
  dataDir: string;
  /** DATABASE_URL, default unset: a PostgreSQL server instead of the embedded one Sluice runs under dataDir. */
  databaseUrl: string | undefined;
  /** SLUICE_EMBEDDED_DB_USER, default sluice: the OS user the embedded PostgreSQL server runs as when Sluice runs
   *  as root (PostgreSQL refuses root); created as a system user when missing. Unused otherwise. */
  embeddedDbUser: string;
  /** SLUICE_DB_POOL_SIZE, default 10 with DATABASE_URL (at least SLUICE_EVENT_WORKERS + 3) and 4 for the embedded
   *  server (at least SLUICE_EVENT_WORKERS + 2): connections this process opens to its database at most. Each open
   *  connection is a server process of about 15-25 MB once warm, which on the embedded server counts in this
   *  machine's memory. */
  dbPoolSize: number | undefined;
  /** SLUICE_ADMIN_TOKEN, default unset: generated on first start, printed once, only its hash kept. */
  adminToken: string | undefined;
  /** SLUICE_CRON_SECRET, default unset: bearer secret of GET|POST /api/v1/cron/scan (the daily scan started by an
   *  outside scheduler); at least 16 characters; while unset that route answers 404. */
  cronSecret: string | undefined;
  /** SLUICE_TRUST_PROXY, default empty (trust no proxy): addresses and CIDRs of the reverse proxies whose
   *  X-Forwarded-For and X-Forwarded-Proto are believed (the client address of sign-in and cron limits and of the
   *  log, https for Secure cookies). Never everyone: see parseTrustedProxies. */
  trustProxy: Cidr[];
  /** SLUICE_PUBLIC_URL, default unset: base of the webhook URLs shown to users; when unset it is
   *  http://HOST:PORT from this config (see publicBaseUrl), for the server and the CLI alike. */
  publicUrl: string | undefined;
  /** SLUICE_SECRET_KEY, default unset: generated into the data dir (mode 0600). */
  secretKey: string | undefined;
  /** SLUICE_ALLOW_UNREADABLE_SECRETS, default false: start even when the master key opens none of the stored
   *  connection secrets (a lost key); those connections answer SECRET_UNREADABLE until saved again. */
  allowUnreadableSecrets: boolean;
  /** SLUICE_MAX_BODY_BYTES, default 1048576 (1 MiB): largest inbound webhook body accepted. */
  maxBodyBytes: number;
  /** SLUICE_STRIPE_TOLERANCE_SECONDS, default 300: how old a Stripe signature timestamp may be. */
  stripeToleranceSeconds: number;
  /** SLUICE_PROCESSING_RETRY_SCHEDULE, default 1,5,30,120,600,1800,3600: seconds before each retry of a
   *  failed event; once the schedule is used up the event is marked `failed`. */
  processingRetrySchedule: number[];
  /** SLUICE_WORKER_POLL_MS, default 250: how often an idle worker looks for due events. */
  workerPollMs: number;
  /** SLUICE_WORKER_BATCH, default 100: events claimed per round trip and projected in one transaction. */
  workerBatchSize: number;
  /** SLUICE_INGEST_FIRST_MS, default 250 (0: never): how long at most an event worker holds back before each batch
   *  while the webhooks of its own process press (jobs/ingest-first.ts). */
  ingestFirstMs: number;
  /** SLUICE_EVENT_WORKERS, default 2 (1 when SLUICE_DB_POOL_SIZE is below 4): event batches processed at once per
   *  process (each on its own connection); beyond the first, only while webhooks are not pressing (jobs/ingest-first.ts).
   *  Events of one customer, or of one payment, are never in two batches at once (the queue's serial keys). */
  eventWorkers: number;
  /** SLUICE_WORKER_LEASE_SECONDS, default 15: a claimed event is reclaimable after this if its worker died;
   *  a live worker renews its lease every third of it, so this bounds recovery time, not handler time. */
  workerLeaseSeconds: number;
  /** SLUICE_SHUTDOWN_TIMEOUT_MS, default 10000: how long SIGTERM waits for in-flight work. */
  shutdownTimeoutMs: number;
  /** SLUICE_STRIPE_API_URL, default https://api.stripe.com: where the Stripe SDK sends API calls (tie
   *  refetches, managed endpoints, doctor); pointed at a local stand-in in tests or at stripe-mock. */
  stripeApiUrl: URL;
  /** SLUICE_PIANO_API_URL, default unset: replaces the region's Piano API base (e.g. a local stand-in). */
  pianoApiUrl: URL | undefined;
  /** SLUICE_RETRY_SCHEDULE, default 0,5,300,1800,7200,18000,36000,36000: seconds before each outbound
   *  attempt (the first is the initial try), ±20% jitter; after the last the delivery is `failed`. */
  retrySchedule: number[];
  /** SLUICE_OUTBOUND_ALLOW, default empty: CIDRs deliveries may reach although private or loopback. */
  outboundAllow: Cidr[];
  /** SLUICE_OUTBOUND_ALLOW_HTTP, default false: allow plain http endpoints anywhere (else https only, except inside SLUICE_OUTBOUND_ALLOW). */
  outboundAllowHttp: boolean;
  /** SLUICE_OUTBOUND_TIMEOUT_MS, default 15000: how long a receiver has to answer a delivery. */
  outboundTimeoutMs: number;
  /** SLUICE_OUTBOUND_CONCURRENCY, default 128: requests out at once per instance (as many again may wait for their attempt to be recorded). */
  outboundConcurrency: number;
  /** SLUICE_WORKFLOW_CONCURRENCY, default 16: workflow steps in flight per instance. */
  workflowConcurrency: number;
  /** SLUICE_WORKFLOW_RETRY_BASE_MS, default 5000: the first retry delay of a failed workflow step; exponential
   *  backoff doubles it per attempt (capped at an hour), fixed keeps it; a Retry-After answer waits longer. */
  workflowRetryBaseMs: number;
  /** SLUICE_ENDPOINT_CONCURRENCY, default 20: deliveries in flight per endpoint, so one slow receiver cannot
   *  take every slot. A slot is held from the claim until the request has ended; the recording of the attempt
   *  after it holds the slot only for other instances, which cannot tell (services/outbound/attempt-delivery.ts).
   *  Under load Sluice's own part of a slot still bounds what one endpoint can take: 10 left a fast receiver
   *  20-30 % short (bench/profile/deliveries.ts). */
  endpointConcurrency: number;
  /** SLUICE_ENDPOINT_DISABLE_AFTER_SECONDS, default 432000 (5 days): an endpoint failing this long without a
   *  success is disabled and an incident opened. */
  endpointDisableAfterSeconds: number;
  /** LOG_LEVEL, default info. */
  logLevel: string;
  /** SLUICE_HEADERS_TIMEOUT_MS, default 10000: a client must send its request headers within this, or is cut off. */
  headersTimeoutMs: number;
  /** SLUICE_REQUEST_TIMEOUT_MS, default 30000: a client must send its whole request (headers and body) within this. */
  requestTimeoutMs: number;
  /** SLUICE_KEEPALIVE_TIMEOUT_MS, default 5000: an idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** SLUICE_MAX_REQUESTS_PER_SOCKET, default 1000: a keep-alive connection is closed after this many requests. */
  maxRequestsPerSocket: number;
  /** SLUICE_MAX_CONNECTIONS, default 4096: open HTTP connections beyond this are refused at once. */
  maxConnections: number;
  /** SLUICE_CHECK_DEBOUNCE_MS, default 2000: a change to a customer is checked this long after it (a burst once). */
  checkDebounceMs: number;
  /** SLUICE_SCAN_RATE_LIVE, default 10: API requests per second a reconciliation scan makes with a live key
   *  (Stripe allows 100 per second per account, shared with everything else using the key); 0 = unthrottled. */
  scanRateLive: number;
  /** SLUICE_SCAN_RATE_TEST, default 5: the same for test keys and Piano's sandbox (Stripe allows 25 in test mode). */
  scanRateTest: number;
  /** SLUICE_RETENTION_DAYS, default 90: days of history kept, for workspaces without their own retentionDays. */
  retentionDays: number;
  /** SLUICE_RETENTION_INTERVAL_SECONDS, default 3600: how often worker processes run retention; 0 turns the
   *  periodic run off (`sluice retention run` still works). */
  retentionIntervalSeconds: number;
  /** SLUICE_RETENTION_BATCH, default 1000: rows per retention statement, each in its own short transaction. */
  retentionBatchSize: number;
  /** SLUICE_RETENTION_PAUSE_MS, default 50: pause between retention batches, so ingest always gets the disk. */
  retentionPauseMs: number;
  /** SLUICE_WORKFLOW_RUN_RETENTION_DAYS, default 30: days finished workflow runs are kept, for workspaces without
   *  their own workflowRunRetentionDays. */
  workflowRunRetentionDays: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Whether the PostgreSQL driver can read this connection string (else its error): asked of the driver's own parser, which also
 *  takes what a bare URL check refuses (no host before a ?host=/socket/dir, a space in the password). */
function driverReads(value: string): true | NodeJS.ErrnoException {
  try {
    parseConnectionString(value);
    return true;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}

export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    // Digits only: Number() also takes "0x1000", "1e3" and " 80", which no one means as a port or a count.
    const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  };
  const str = (name: string): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw === '' ? undefined : raw;
  };

  const port = int('PORT', 8080, 0, 65535);
  const host = str('HOST') ?? '127.0.0.1';
  if (!isListenAddress(host)) {
    problems.push(`HOST must be an IP address (127.0.0.1, 0.0.0.0, ::) or a host name, got "${host}"`);
  }
  const databaseUrl = str('DATABASE_URL');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must start with postgres:// or postgresql://');
  }
  const unread = databaseUrl && /^postgres(ql)?:\/\//.test(databaseUrl) ? driverReads(databaseUrl) : true;
  if (unread !== true) {
    const err = unread;
    // Checked as the driver reads it, or the start fails later with a bare "Invalid URL".
    // Never quoted: it may hold a password.
    if (typeof err.syscall === 'string')
      // The driver reads the files an sslcert, sslkey or sslrootcert parameter names while parsing: the URL is fine.
      problems.push(
        `DATABASE_URL names a TLS file (sslcert, sslkey or sslrootcert) that cannot be read: ${err.code ?? 'error'}${'path' in err ? ` (${String(err.path)})` : ''}`,
      );
    else
      problems.push(
        'DATABASE_URL is not a valid URL: check its port (1-65535) and host, and percent-encode special characters in the user name and password (@ as %40, : as %3A, / as %2F, # as %23, a space as %20)',
      );
  }
  const embeddedDbUser = str('SLUICE_EMBEDDED_DB_USER');
  if (embeddedDbUser !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(embeddedDbUser)) {
    problems.push('SLUICE_EMBEDDED_DB_USER must be a user name (lowercase letters, digits, _ and -, at most 32 characters)');
  }
  const adminToken = str('SLUICE_ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < 16) {
    problems.push('SLUICE_ADMIN_TOKEN must be at least 16 characters');
  }
  const cronSecret = str('SLUICE_CRON_SECRET');
  if (cronSecret !== undefined && (cronSecret.length < 16 || cronSecret.length > 1024 || /\s/.test(cronSecret))) {
    problems.push(
      'SLUICE_CRON_SECRET must be 16 to 1024 characters with no spaces (it is sent as `Authorization: Bearer <secret>`; e.g. `openssl rand -hex 32`)',
    );
  }
  const secretKey = str('SLUICE_SECRET_KEY');
  if (secretKey !== undefined && secretKey.length < 32) {
    problems.push('SLUICE_SECRET_KEY must be at least 32 characters (e.g. `openssl rand -base64 32`)');
  }
  let publicUrl = str('SLUICE_PUBLIC_URL');
  if (publicUrl !== undefined) {
    try {
      const u = new URL(publicUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
      publicUrl = publicUrl.replace(/\/+$/, '');
    } catch {
      problems.push(`SLUICE_PUBLIC_URL must be an http(s) URL, got "${publicUrl}"`);
      publicUrl = undefined;
    }
  }
  let stripeApiUrl = new URL('https://api.stripe.com');
  const stripeApi = str('SLUICE_STRIPE_API_URL');
  if (stripeApi !== undefined) {
    try {
      const u = new URL(stripeApi);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
      stripeApiUrl = u;
    } catch {
      problems.push(`SLUICE_STRIPE_API_URL must be an http(s) URL, got "${stripeApi}"`);
    }
  }
  const logLevel = str('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  // A list of delays in seconds: each entry a plain number (an empty entry, as in "1,,2", is a mistake, not a 0),
  // at most 50 of them, none over a week.
  const seconds = (name: string, fallback: number[]): number[] => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    const parts = raw.split(',').map((x) => (/^\d+(\.\d+)?$/.test(x.trim()) ? Number(x.trim()) : NaN));
    if (parts.length > 50 || parts.some((n) => !Number.isFinite(n) || n > 604_800)) {
      problems.push(`${name} must be a comma-separated list of up to 50 delays in seconds (0 to 604800 each), e.g. 0,5,300; got "${raw}"`);
      return fallback;
    }
    return parts;
  };
  const processingRetrySchedule = seconds('SLUICE_PROCESSING_RETRY_SCHEDULE', [1, 5, 30, 120, 600, 1800, 3600]);

  let pianoApiUrl: URL | undefined;
  const pianoApi = str('SLUICE_PIANO_API_URL');
  if (pianoApi !== undefined) {
    try {
      pianoApiUrl = new URL(pianoApi);
      if (pianoApiUrl.protocol !== 'http:' && pianoApiUrl.protocol !== 'https:') throw new Error('protocol');
    } catch {
      problems.push(`SLUICE_PIANO_API_URL must be an http(s) URL, got "${pianoApi}"`);
      pianoApiUrl = undefined;
    }
  }
  const trustProxy = parseTrustedProxies(str('SLUICE_TRUST_PROXY') ?? '');
  for (const p of trustProxy.problems) problems.push(`SLUICE_TRUST_PROXY: ${p}`);
  const allow = parseCidrs(str('SLUICE_OUTBOUND_ALLOW') ?? '');
  for (const p of allow.problems) problems.push(`SLUICE_OUTBOUND_ALLOW: ${p}`);
  // Every switch reads the same words: true/false, 1/0, yes/no (any case); anything else is a mistake, never false.
  const flag = (name: string): boolean => {
    const raw = str(name);
    if (raw === undefined) return false;
    const word = raw.trim().toLowerCase();
    if (['1', 'true', 'yes'].includes(word)) return true;
    if (!['0', 'false', 'no'].includes(word)) problems.push(`${name} must be true or false (or 1/0, yes/no), got "${raw}"`);
    return false;
  };

  const config: Config = {
    port,
    host,
    dataDir: path.resolve(str('SLUICE_DATA_DIR') ?? './data'),
    databaseUrl,
    embeddedDbUser: embeddedDbUser ?? 'sluice',
    dbPoolSize: str('SLUICE_DB_POOL_SIZE') === undefined ? undefined : int('SLUICE_DB_POOL_SIZE', 10, 2, 500),
    adminToken,
    cronSecret,
    trustProxy: trustProxy.cidrs,
    publicUrl,
    secretKey,
    allowUnreadableSecrets: flag('SLUICE_ALLOW_UNREADABLE_SECRETS'),
    maxBodyBytes: int('SLUICE_MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    stripeToleranceSeconds: int('SLUICE_STRIPE_TOLERANCE_SECONDS', 300, 1, 86_400),
    processingRetrySchedule,
    workerPollMs: int('SLUICE_WORKER_POLL_MS', 250, 10, 60_000),
    workerBatchSize: int('SLUICE_WORKER_BATCH', 100, 1, 1000),
    eventWorkers: int('SLUICE_EVENT_WORKERS', defaultEventWorkers(databaseUrl, str('SLUICE_DB_POOL_SIZE')), 1, 32),
    ingestFirstMs: int('SLUICE_INGEST_FIRST_MS', 250, 0, 10_000),
    workerLeaseSeconds: int('SLUICE_WORKER_LEASE_SECONDS', 15, 3, 3600),
    shutdownTimeoutMs: int('SLUICE_SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    stripeApiUrl,
    pianoApiUrl,
    retrySchedule: seconds('SLUICE_RETRY_SCHEDULE', [0, 5, 300, 1800, 7200, 18000, 36000, 36000]),
    outboundAllow: allow.cidrs,
    outboundAllowHttp: flag('SLUICE_OUTBOUND_ALLOW_HTTP'),
    outboundTimeoutMs: int('SLUICE_OUTBOUND_TIMEOUT_MS', 15_000, 100, 300_000),
    outboundConcurrency: int('SLUICE_OUTBOUND_CONCURRENCY', 128, 1, 1000),
    workflowConcurrency: int('SLUICE_WORKFLOW_CONCURRENCY', 16, 1, 1000),
    workflowRetryBaseMs: int('SLUICE_WORKFLOW_RETRY_BASE_MS', 5000, 10, 3_600_000),
    endpointConcurrency: int('SLUICE_ENDPOINT_CONCURRENCY', 20, 1, 100),
    endpointDisableAfterSeconds: int('SLUICE_ENDPOINT_DISABLE_AFTER_SECONDS', 432_000, 1, 31_536_000),
    logLevel,
    headersTimeoutMs: int('SLUICE_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
    requestTimeoutMs: int('SLUICE_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
    keepAliveTimeoutMs: int('SLUICE_KEEPALIVE_TIMEOUT_MS', 5_000, 100, 600_000),
    maxRequestsPerSocket: int('SLUICE_MAX_REQUESTS_PER_SOCKET', 1000, 0, 1_000_000),
    maxConnections: int('SLUICE_MAX_CONNECTIONS', 4096, 1, 1_000_000),
    checkDebounceMs: int('SLUICE_CHECK_DEBOUNCE_MS', 2000, 0, 3_600_000),
    scanRateLive: int('SLUICE_SCAN_RATE_LIVE', 10, 0, 1000),
    scanRateTest: int('SLUICE_SCAN_RATE_TEST', 5, 0, 1000),
    retentionDays: int('SLUICE_RETENTION_DAYS', 90, 1, 36_500),
    retentionIntervalSeconds: int('SLUICE_RETENTION_INTERVAL_SECONDS', 3600, 0, 604_800),
    retentionBatchSize: int('SLUICE_RETENTION_BATCH', 1000, 10, 100_000),
    retentionPauseMs: int('SLUICE_RETENTION_PAUSE_MS', 50, 0, 60_000),
    workflowRunRetentionDays: int('SLUICE_WORKFLOW_RUN_RETENTION_DAYS', 30, 1, 36_500),
    ...overrides,
  };
  if (config.dbPoolSize !== undefined && config.dbPoolSize <= config.eventWorkers) {
    problems.push(
      `SLUICE_DB_POOL_SIZE (${config.dbPoolSize}) must be larger than SLUICE_EVENT_WORKERS (${config.eventWorkers}): each event worker holds a connection while its batch runs, and requests need one too`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Two batches at once. The second starts only while webhooks are not pressing (jobs/ingest-first.ts), so peak ingest and
 * memory under a burst are what they are with one, while on 2 cores the projection ran 40-90 % faster and the
 * receipt → CRM row p99 at 1,000 events/s fell (docs/benchmarks.md). One when a small SLUICE_DB_POOL_SIZE leaves room
 * for no more: each batch holds a connection, and requests need one too.
 */
function defaultEventWorkers(databaseUrl: string | undefined, poolSize: string | undefined): number {
  const pool = poolSize !== undefined && /^\d+$/.test(poolSize) ? Number(poolSize) : databaseUrl ? 10 : 4;
  return pool >= 4 ? 2 : 1;
}

/**
 * The proxies whose X-Forwarded-For and X-Forwarded-Proto Sluice believes: IP addresses and CIDRs only. Fastify's
 * trustProxy takes more, and each of the other forms is refused here with the reason:
 * - `true` (and `*`, `0.0.0.0/0`, `::/0`: every address) believes the whole X-Forwarded-For chain, whose first
 *   entries the client writes itself, so every guess could come from a new address of the client's choosing;
 * - a hop count believes whoever connects, proxy or not (Fastify 5.12 ignores it for that reason);
 * - a host name would need a lookup per request, or one at start that goes stale.
 * `false`, `no` and `0` mean what unset means: trust nothing.
 */
function parseTrustedProxies(raw: string): { cidrs: Cidr[]; problems: string[] } {
  const word = raw.trim().toLowerCase();
  if (['', 'false', 'no', '0'].includes(word)) return { cidrs: [], problems: [] };
  const cidrs: Cidr[] = [];
  const problems: string[] = [];
  const example = 'list the addresses your proxy connects from, e.g. 127.0.0.1 or 10.0.0.0/8';
  for (const entry of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (['true', 'yes', '*', 'all', 'any'].includes(entry.toLowerCase())) {
      problems.push(
        `"${entry}" would believe every client's X-Forwarded-For, so a client could choose its own address for every sign-in attempt; ${example}`,
      );
      continue;
    }
    if (/^\d+$/.test(entry)) {
      problems.push(`"${entry}" is a hop count, which cannot tell your proxy from a client that connects directly; ${example}`);
      continue;
    }
    const parsed = parseCidrs(entry).cidrs[0];
    if (!parsed) {
      problems.push(`"${entry}" is not an IP address or CIDR (host names are not looked up); ${example}`);
      continue;
    }
    if (coversEveryone(parsed)) {
      problems.push(`"${entry}" covers every address, so any client could choose its own address; ${example}`);
      continue;
    }
    cidrs.push(parsed);
  }
  return { cidrs, problems };
}

/** A range holding every address of a family. An IPv6 range holding ::ffff:0:0/96 (::/0, ::/80, ::ffff:0:0/96) holds
 *  every IPv4 address too: proxy-addr compares an IPv4 client with an IPv6 range as its IPv4-mapped form. */
function coversEveryone(cidr: Cidr): boolean {
  if (cidr.prefix === 0) return true;
  return cidr.family === 'ipv6' && cidr.prefix <= 96 && ipaddr.parse('::ffff:0:0').match(ipaddr.parse(cidr.address), cidr.prefix);
}

/** Base of the webhook URLs shown to users: SLUICE_PUBLIC_URL, else http://HOST:PORT. The server and a CLI
 *  command run while it is down both use this, so the URLs a user copies never depend on who printed them.
 *  `listenedPort` fills in the port the OS picked when PORT is 0. */
export function publicBaseUrl(config: Pick<Config, 'publicUrl' | 'host' | 'port'>, listenedPort?: number): string {
  if (config.publicUrl) return config.publicUrl;
  const host = config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port === 0 && listenedPort !== undefined ? listenedPort : config.port}`;
}

/** An address to listen on: an IP literal, or a name by RFC 1123's rules (one that looks like an IPv4 address but is
 *  not one, as 999.1.1.1, is neither; a name that does not resolve fails when Sluice listens, naming it). */
function isListenAddress(host: string): boolean {
  if (isIP(host) !== 0) return true;
  if (/^[\d.]+$/.test(host)) return false;
  return host.length <= 253 && /^(?!-)[a-z\d-]{1,63}(?<!-)(\.(?!-)[a-z\d-]{1,63}(?<!-))*\.?$/i.test(host);
}

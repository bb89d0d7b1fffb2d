// "It is in Stripe but not here": the doctor's checks for the console, each with what was seen and what to do,
// for Stripe and for Piano. Everything read here is bounded (index probes, the rejection counters, the newest
// few thousand events of a status); the checks that ask Stripe are separate (getStripeApiChecks) so the page
// can show the rest at once and fetch those after.
import { findConnection } from '../../db/queries/connections.js';
import { lastEventOf, recentFailures } from '../../db/queries/console-stats.js';
import { processingLag, unhandledTypes } from '../../db/queries/events.js';
import { listRejections, type RejectionRow } from '../../db/queries/inbound-rejections.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { checkStripeApi, type CheckStatus } from '../connections/check-stripe-connection.js';
import { openPianoSecrets, pianoSettings } from '../connections/piano-connection.js';
import { openStripeSecrets } from '../connections/stripe-connection.js';
import { sealedSecretsReadable } from '../connections/open-sealed-secrets.js';
import { webhookUrls } from '../workspaces/workspace-view.js';
import { explainRejection } from './rejection-reasons.js';

/** Where the fix is done, for the page to link to. */
export type FixPlace = 'settings' | 'failed-events' | 'events';

export interface TroubleCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
  where?: FixPlace;
  /** Refused deliveries by reason, newest first. */
  failures?: { reason: string; words: string; fix: string; count: number; lastAt: string }[];
}

export interface ProviderTrouble {
  webhookUrl: string;
  connected: boolean;
  checks: TroubleCheck[];
}

export interface TroubleshootingView {
  stripe: ProviderTrouble & { hasApiKey: boolean };
  piano: ProviderTrouble;
}

const DAY_MS = 24 * 3600_000;
/** How many of the newest failed events the "failed to process" check looks at. */
const FAILED_WINDOW = 200;
/** How many of the newest ignored events per provider the "unhandled types" check looks at (each is a row read:
 *  ignored events are a few percent of the history, spread over it). */
const UNHANDLED_WINDOW = 1000;
const LAG_WARN_SECONDS = 60;
const LAG_FAIL_SECONDS = 15 * 60;

/** A time as a person reads it, in UTC to the second. */
function when(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function failuresOf(rows: RejectionRow[]): NonNullable<TroubleCheck['failures']> {
  return rows.map((r) => ({ reason: r.reason, ...explainRejection(r.reason), count: r.count, lastAt: r.lastAt.toISOString() }));
}

/** Refused deliveries: failing when the newest one came after the last accepted event, a warning when one came
 *  in the last day, fine otherwise. */
function signatureCheck(name: string, rows: RejectionRow[], lastEventAt: Date | null, now: number): TroubleCheck {
  const newest = rows[0];
  if (!newest) return { name, status: 'ok', detail: 'No delivery has been refused.' };
  const failures = failuresOf(rows);
  const first = failures[0]!;
  if (!lastEventAt || newest.lastAt > lastEventAt) {
    return {
      name,
      status: 'fail',
      detail: `The last delivery was refused (${when(newest.lastAt)}): ${first.words}${lastEventAt ? ` The last accepted event came at ${when(lastEventAt)}.` : ''}`,
      fix: first.fix,
      where: 'settings',
      failures,
    };
  }
  if (now - newest.lastAt.getTime() < DAY_MS) {
    return {
      name,
      status: 'warn',
      detail: `Some deliveries were refused in the last 24 hours (the latest at ${when(newest.lastAt)}), but events were accepted since.`,
      fix: first.fix,
      failures,
    };
  }
  return { name, status: 'ok', detail: 'No delivery refused in the last 24 hours (older refusals below).', failures };
}

function lagCheck(lag: { pending: number; oldestPendingSeconds: number; recentMeanSeconds: number | null } | undefined): TroubleCheck {
  const pending = lag?.pending ?? 0;
  const oldest = Math.round(lag?.oldestPendingSeconds ?? 0);
  const mean = lag?.recentMeanSeconds;
  const recent = mean == null ? '' : ` Events processed in the last 5 minutes took ${mean.toFixed(2)} s on average.`;
  if (pending === 0) return { name: 'Processing lag', status: 'ok', detail: `No event is waiting to be processed.${recent}` };
  const detail = `${pending} event(s) waiting; the oldest for ${oldest} s.${recent}`;
  const fix =
    'Check that a Sluice process with the worker is running (sluice start) and read its log; failed events can be replayed from the Events page.';
  if (oldest >= LAG_FAIL_SECONDS) return { name: 'Processing lag', status: 'fail', detail, fix, where: 'events' };
  if (oldest >= LAG_WARN_SECONDS) return { name: 'Processing lag', status: 'warn', detail, fix, where: 'events' };
  return { name: 'Processing lag', status: 'ok', detail };
}

export async function getTroubleshooting(ctx: Ctx, workspaceId: string): Promise<TroubleshootingView> {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const now = ctx.now();
  const urls = webhookUrls(ctx, workspaceId);
  const [stripeRow, pianoRow, rejections, lastStripe, lastPiano, lag, unhandled, stripeFailed, pianoFailed] = await Promise.all([
    findConnection(ctx.db, workspaceId, 'stripe'),
    findConnection(ctx.db, workspaceId, 'piano'),
    listRejections(ctx.db, workspaceId),
    lastEventOf(ctx.db, workspaceId, 'stripe'),
    lastEventOf(ctx.db, workspaceId, 'piano'),
    processingLag(ctx.db, workspaceId),
    unhandledTypes(ctx.db, workspaceId, UNHANDLED_WINDOW),
    recentFailures(ctx.db, workspaceId, 'stripe', FAILED_WINDOW),
    recentFailures(ctx.db, workspaceId, 'piano', FAILED_WINDOW),
  ]);

  // Stripe
  const stripe: TroubleCheck[] = [];
  let hasApiKey = false;
  if (!stripeRow) {
    stripe.push({
      name: 'Signing secret',
      // a Piano-only workspace does not need Stripe
      status: pianoRow ? 'skip' : 'fail',
      detail: pianoRow
        ? 'Stripe is not connected (this workspace receives Piano webhooks). Connect it only if Stripe should send events here.'
        : 'Stripe is not connected: no signing secret is stored, so every delivery from Stripe is refused.',
      fix: 'In Settings, paste the signing secret shown on the endpoint\'s page in the Stripe dashboard, or paste an API key and press "Generate base webhook".',
      where: 'settings',
    });
  } else if (!sealedSecretsReadable(ctx, stripeRow)) {
    stripe.push({
      name: 'Signing secret',
      status: 'fail',
      detail: "The stored Stripe secrets cannot be opened with this server's master key: every delivery is answered 503.",
      fix: 'Start Sluice with the master key the secrets were stored with, or store the signing secret and API key again in Settings.',
      where: 'settings',
    });
  } else {
    const secrets = openStripeSecrets(ctx, stripeRow);
    hasApiKey = secrets.apiKey !== undefined;
    stripe.push(
      secrets.webhookSecrets.length === 0
        ? {
            name: 'Signing secret',
            status: 'fail',
            detail: 'No signing secret is stored: every delivery from Stripe is refused.',
            fix: "In Settings, paste the signing secret shown on the endpoint's page in the Stripe dashboard (whsec_…).",
            where: 'settings',
          }
        : { name: 'Signing secret', status: 'ok', detail: `${secrets.webhookSecrets.length} signing secret(s) stored.` },
    );
  }
  // A Piano-only workspace: the rest of Stripe's checks would only be noise.
  if (stripeRow || !pianoRow) {
    const stripeRejections = rejections.filter((r) => r.provider === 'stripe');
    stripe.push(signatureCheck('Signature failures', stripeRejections, lastStripe?.receivedAt ?? null, now));
    stripe.push(
      lastStripe
        ? { name: 'Events received', status: 'ok', detail: `The last event (${lastStripe.type}) came at ${when(lastStripe.receivedAt)}.` }
        : {
            name: 'Events received',
            status: 'warn',
            detail: 'No Stripe event has been received yet.',
            fix: 'Send a test event from the Stripe dashboard (the endpoint\'s page, "Send test webhook") or run `stripe trigger customer.created`.',
          },
    );
    if (stripeRow && !hasApiKey) {
      stripe.push({
        name: 'API key',
        status: 'skip',
        detail: 'No API key is stored, so the endpoint in Stripe (its address, whether it is enabled, its event types) cannot be checked.',
        fix: 'In Settings, paste a secret or restricted key (read access to Webhook Endpoints) and press "Test & connect".',
        where: 'settings',
      });
    }
    const stripeUnhandled = unhandled.filter((u) => u.provider === 'stripe');
    stripe.push(
      stripeUnhandled.length > 0
        ? {
            name: 'Unhandled types',
            status: 'warn',
            detail: `Received but not used by the CRM (among the latest ${UNHANDLED_WINDOW.toLocaleString('en-US')} ignored events): ${stripeUnhandled
              .slice(0, 12)
              .map((u) => `${u.type} (${u.count})`)
              .join(', ')}.`,
            fix: 'They are stored and can be forwarded, but nothing is projected from them; unsubscribe from them in Stripe if nobody needs them.',
          }
        : { name: 'Unhandled types', status: 'ok', detail: 'Every recent event type received is one the CRM handles.' },
    );
    stripe.push(failedCheck(stripeFailed));
    stripe.push(lagCheck(lag.find((l) => l.provider === 'stripe')));
  }

  // Piano
  const piano: TroubleCheck[] = [];
  if (pianoRow) {
    const readable = sealedSecretsReadable(ctx, pianoRow);
    const aid = pianoSettings(pianoRow).aid;
    piano.push(
      readable && openPianoSecrets(ctx, pianoRow).privateKey
        ? { name: 'Private key', status: 'ok', detail: `The private key of application ${aid} is stored.` }
        : {
            name: 'Private key',
            status: 'fail',
            detail: readable ? 'No private key is stored.' : "The stored Piano secrets cannot be opened with this server's master key.",
            fix: 'In Settings, paste the private key of the application (Piano: Manage → Edit business → API keys).',
            where: 'settings',
          },
    );
    piano.push(
      lastPiano
        ? { name: 'Last webhook', status: 'ok', detail: `The last webhook (${lastPiano.type}) came at ${when(lastPiano.receivedAt)}.` }
        : {
            name: 'Last webhook',
            status: 'warn',
            detail: 'No Piano webhook has been received yet.',
            fix: "Paste the Piano webhook URL above into Piano's webhook settings for this application, then trigger an event (a test purchase).",
          },
    );
    const pianoRejections = rejections.filter((r) => r.provider === 'piano');
    piano.push(
      signatureCheck(
        'HMAC and decryption failures',
        pianoRejections.filter((r) => r.reason !== 'aid_mismatch'),
        lastPiano?.receivedAt ?? null,
        now,
      ),
    );
    const aidRows = pianoRejections.filter((r) => r.reason === 'aid_mismatch');
    const aidCheck = signatureCheck('Application (aid)', aidRows, lastPiano?.receivedAt ?? null, now);
    if (aidRows.length === 0) aidCheck.detail = `Every webhook was for the connected application (${aid}).`;
    piano.push(aidCheck);
    piano.push(failedCheck(pianoFailed));
    piano.push(lagCheck(lag.find((l) => l.provider === 'piano')));
  }

  return {
    stripe: { webhookUrl: urls.stripe, connected: stripeRow !== undefined, hasApiKey, checks: stripe },
    piano: { webhookUrl: urls.piano, connected: pianoRow !== undefined, checks: piano },
  };
}

function failedCheck(f: { count: number; lastError: string | null }): TroubleCheck {
  if (f.count === 0) return { name: 'Processing failures', status: 'ok', detail: 'No event failed to process.' };
  return {
    name: 'Processing failures',
    status: 'warn',
    detail: `${f.count >= FAILED_WINDOW ? `At least ${FAILED_WINDOW}` : f.count} event(s) failed to process; the latest: ${f.lastError ?? 'no reason recorded'}.`,
    fix: 'Open the failed events, fix the cause (often a missing connection setting), then replay them.',
    where: 'failed-events',
  };
}

/** The console's words for what to do when a check that asks Stripe fails. */
const API_FIXES: Record<string, { name: string; fix: string }> = {
  'api key': {
    name: 'API key accepted',
    fix: 'The key was revoked or mistyped: paste a current key in Settings and press "Test & connect".',
  },
  endpoint: {
    name: 'Endpoint points here',
    fix: 'Press "Generate base webhook" in Settings to create it (set SLUICE_PUBLIC_URL first if Stripe must reach another address), or change the endpoint\'s URL in the Stripe dashboard to the webhook URL above.',
  },
  enabled: { name: 'Endpoint enabled', fix: 'Enable the endpoint in the Stripe dashboard (Developers → Webhooks).' },
  events: {
    name: 'Subscribed to every handled type',
    fix: 'Add the missing types to the endpoint in the Stripe dashboard, or add an extra endpoint with them in Settings.',
  },
};

/** The checks that ask Stripe, with the console's wording; none without an API key. */
export async function getStripeApiChecks(ctx: Ctx, workspaceId: string): Promise<TroubleCheck[]> {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const row = await findConnection(ctx.db, workspaceId, 'stripe');
  if (!row || !sealedSecretsReadable(ctx, row)) return [];
  const apiKey = openStripeSecrets(ctx, row).apiKey;
  if (!apiKey) return [];
  const checks = await checkStripeApi(ctx, workspaceId, row, apiKey);
  return checks.map((c) => {
    const words = API_FIXES[c.name];
    const detail = c.detail.charAt(0).toUpperCase() + c.detail.slice(1);
    return {
      name: words?.name ?? c.name,
      status: c.status,
      detail: /[.!?]$/.test(detail) ? detail : `${detail}.`,
      ...(c.status !== 'ok' && words ? { fix: words.fix, where: 'settings' as const } : {}),
    };
  });
}

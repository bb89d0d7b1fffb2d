// Erasure of one person on request (GDPR art. 17 and the like): their personal data leaves the CRM rows of
// every identity (linked by person, or sharing the email), the stored event payloads and raw bodies, the
// messages, provider snapshots and free-text columns (receivers' answers, errors) — in one transaction, with
// an audit row that names ids only. Ids stay, so history, references and a rebuild keep working; the
// redacted payloads are what a rebuild reads, so it cannot bring the values back.
// A delivery in flight during the erasure may come back with an answer quoting the person: the sender drops
// that excerpt, as the message it sent was rewritten here meanwhile (see lockDeliveriesForRecord).
// An event a worker claimed before the erasure (its payload already read) loses its claim here, so the worker
// cannot write the erased values back; the event is processed again from its redacted payload.
import { customersOfPerson, findCustomer } from '../../db/queries/crm-read.js';
import { findConnection } from '../../db/queries/connections.js';
import {
  blankCustomers,
  customersByEmail,
  deleteWorkspaceIdempotentAnswers,
  dropEventClaims,
  eventsMentioning,
  insertErasure,
  likePatterns,
  messagesMentioning,
  snapshotsMentioning,
  textsMentioning,
  updateEventContent,
  updateMessageData,
  updateSnapshot,
  updateText,
  updateWorkflowJson,
  workflowJsonMentioning,
  type ErasureRow,
} from '../../db/queries/erasure.js';
import type { Queryable } from '../../db/port.js';
import { retryOnLockConflict } from '../../db/retry-lock-conflict.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { personNeedles, redactText, redactValue, type Person, type Removed } from '../../crm/redact-person.js';
import { encryptPianoData } from '../../inbound/piano/crypto.js';
import { AppError, NotFoundError, WorkspaceNotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { openPianoSecrets } from '../connections/piano-connection.js';
import { toErasureView, type ErasureView } from './erasure-view.js';

type CustomerRow = Record<string, unknown> & { id: string };

/** Every identity of the person: the row asked for, rows linked to it, and rows carrying one of its emails. */
async function identitiesOf(tx: Queryable, workspaceId: string, first: CustomerRow): Promise<CustomerRow[]> {
  const byId = new Map<string, CustomerRow>();
  let frontier: CustomerRow[] = [first];
  // Two rounds reach a linked row's other emails; a person with more aliases than that is unusual.
  for (let round = 0; round < 3 && frontier.length > 0; round++) {
    const next: CustomerRow[] = [];
    for (const row of frontier) {
      if (byId.has(row.id)) continue;
      byId.set(row.id, row);
      next.push(...((await customersOfPerson(tx, row)) as CustomerRow[]));
      if (typeof row.email === 'string') next.push(...((await customersByEmail(tx, workspaceId, [row.email])) as CustomerRow[]));
    }
    frontier = next.filter((r) => !byId.has(r.id));
  }
  return [...byId.values()];
}

/** A Piano raw body is the encrypted `data`; it is re-encrypted from the redacted payload so forwards still decrypt it. */
function redactRawBody(provider: string, raw: string, redactedPayload: unknown, person: Person, pianoKey: string | undefined): string {
  if (provider === 'piano') return pianoKey ? encryptPianoData(JSON.stringify(redactedPayload), pianoKey) : '';
  try {
    return JSON.stringify(redactValue(JSON.parse(raw), person));
  } catch {
    return redactText(raw, person.needles);
  }
}

export async function eraseCustomer(
  ctx: Ctx,
  input: { workspaceId: string; customerId: string; erase: unknown; requestedBy: string },
): Promise<ErasureView> {
  if (input.erase !== true && input.erase !== 'true') {
    throw new AppError(
      'CONFIRMATION_REQUIRED',
      'deleting a customer erases their personal data for good; add ?erase=true to confirm (the rows and ids stay, the personal fields are emptied)',
      400,
    );
  }
  const { workspaceId } = input;
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  // The erasure locks rows of many tables that retention, projection and the sender lock too; a deadlock with
  // one of them rolls the whole erasure back (nothing half-done), and it runs again after a short wait.
  return retryOnLockConflict(() => eraseOnce(ctx, input), {
    attempts: ERASE_ATTEMPTS,
    backoffMs: 50,
    what: 'the erasure',
    onRetry: (attempt, err) =>
      ctx.log.warn(
        { workspaceId, attempt, code: (err as { code?: string }).code },
        'customer erasure met a lock conflict; running it again',
      ),
  });
}

const ERASE_ATTEMPTS = 3;

async function eraseOnce(ctx: Ctx, input: { workspaceId: string; customerId: string; requestedBy: string }): Promise<ErasureView> {
  const { workspaceId } = input;
  const erasure = await ctx.db.transaction(async (tx): Promise<ErasureRow> => {
    const first = (await findCustomer(tx, workspaceId, input.customerId)) as CustomerRow | undefined;
    if (!first) throw new NotFoundError('CUSTOMER_NOT_FOUND', `no customer ${JSON.stringify(input.customerId)} in this workspace`);
    const identities = await identitiesOf(tx, workspaceId, first);
    const providerIds = identities.map((r) => String(r.provider_id));
    const person: Person = {
      ids: new Set([...providerIds, ...identities.map((r) => r.id)]),
      needles: personNeedles(identities.flatMap((r) => [r.email, r.name, r.phone] as (string | null)[])),
    };
    const patterns = likePatterns([...providerIds, ...person.needles]);
    const customerIds = identities.map((r) => r.id);
    const counts: Record<string, number> = { customers: 0, events: 0, messages: 0, snapshots: 0, texts: 0 };

    const piano = await findConnection(tx, workspaceId, 'piano');
    let pianoKey: string | undefined;
    try {
      pianoKey = piano ? openPianoSecrets(ctx, piano).privateKey : undefined;
    } catch {
      pianoKey = undefined; // sealed under another master key: the raw body is emptied instead
    }

    const removed: Removed = { fields: new Set(), all: new Set() };
    const rewritten: string[] = [];
    for (const e of await eventsMentioning(tx, workspaceId, customerIds, patterns)) {
      const payload = redactValue(e.payload, person, removed);
      const raw = redactRawBody(e.provider, e.raw_body, payload, person, pianoKey);
      if (JSON.stringify(payload) === JSON.stringify(e.payload) && raw === e.raw_body) continue;
      await updateEventContent(tx, e.id, payload, raw);
      rewritten.push(e.id);
      counts.events! += 1;
    }
    // A worker may have claimed one of them before this erasure and still hold its old payload: its claim goes.
    await dropEventClaims(tx, rewritten);
    // Earlier values found in the payloads (an email the person had before) are searched for in messages too.
    const known: Person = { ids: person.ids, needles: personNeedles([...person.needles, ...removed.fields]) };
    const knownPatterns = likePatterns([...providerIds, ...known.needles]);
    // A raw message whose data is the payload of an event just rewritten reads the redacted payload already; its
    // data is still written into its own row, because that row is what a delivery in flight holds locked and
    // fingerprints (db/queries/deliveries.ts, lockDeliveriesForRecord): it must change for the sender to see
    // that the message was erased while its request was out.
    for (const m of await messagesMentioning(tx, workspaceId, knownPatterns, rewritten)) {
      const data = redactValue(m.data, known, removed);
      if (!m.ofEvent && JSON.stringify(data) === JSON.stringify(m.data)) continue;
      await updateMessageData(tx, m.id, data);
      counts.messages! += 1;
    }
    for (const s of await snapshotsMentioning(tx, workspaceId, knownPatterns)) {
      await updateSnapshot(tx, s.event_id, s.object_id, redactValue(s.object, known, removed));
      counts.snapshots! += 1;
    }
    // Workflow runs keep the event and customer they started with, and each step's input and output.
    counts.workflows = 0;
    for (const w of await workflowJsonMentioning(tx, workspaceId, knownPatterns)) {
      await updateWorkflowJson(tx, w.table, w.key, w.column, redactValue(w.value, known, removed));
      counts.workflows += 1;
    }
    // Free text holds no structure to recognise the person by: their known values are replaced, and so are
    // the values the structured pass found in their objects (address lines, postcodes), which is why this
    // pass alone may also blank a matching value of someone else in a receiver's answer or an error.
    const textNeedles = personNeedles([...known.needles, ...removed.all]);
    const textPatterns = likePatterns(textNeedles);
    if (textPatterns.length > 0) {
      for (const t of await textsMentioning(tx, workspaceId, textPatterns)) {
        await updateText(tx, t.table, t.key, t.column, redactText(t.text, textNeedles));
        counts.texts! += 1;
      }
    }
    counts.customers = await blankCustomers(tx, customerIds);
    // Answers kept for Idempotency-Key replays are sealed, so they cannot be searched for the person; the
    // workspace's are dropped instead (a retry within 24 h then runs again rather than replaying).
    counts.idempotentAnswers = await deleteWorkspaceIdempotentAnswers(tx, workspaceId);
    return insertErasure(tx, {
      id: newId('era', ctx.now()),
      workspaceId,
      requestedBy: input.requestedBy,
      customerIds,
      providerIds,
      counts,
    });
  });
  ctx.log.info({ workspaceId, erasureId: erasure.id, customerIds: erasure.customerIds, counts: erasure.counts }, 'customer erased');
  return toErasureView(erasure);
}

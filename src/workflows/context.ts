// The evaluation context every workflow expression sees, built from plain inputs (no database, no clock):
//
//   event     the object the event is about plus `action`: `data.object` of a Stripe event, the payload of a
//             Piano event, `data` of a business or custom event. `action` is the trigger's action
//             (`completed`), replacing any field of that name in the object.
//   trigger   {id, type, source, object, created, livemode, previousAttributes, recovered}
//   customer  {id, email, name, tags, attributes, access} snapshotted at run start, or null when the event has no
//             customer
//   steps     {<stepId>: {output}} for the steps that have finished
//   run       {id, attempt, mode}
//   secrets   {<name>: value}; the definition only lets URLs and headers read them
import { classifyEvent, publishedType, type TriggerSource } from './triggers.js';

export interface ContextEventInput {
  source: TriggerSource;
  /** Provider type for stripe/piano (`checkout.session.completed`, `access_granted`), else the message type. */
  type: string;
  /** The stored event's or message's id. */
  id: string;
  /** The provider payload (stripe, piano) or the message's `data` (sluice, custom). */
  payload: unknown;
  /** When the event happened; for Stripe the payload's `created` is used when this is absent. */
  created?: Date | string | null;
  livemode?: boolean | null;
  /** The event was found by a scan or recovery rather than delivered. */
  recovered?: boolean;
}

export interface ContextCustomer {
  id: string;
  email: string | null;
  name: string | null;
  tags: string[];
  attributes: Record<string, unknown>;
  access: unknown[];
}

export interface ContextInput {
  event: ContextEventInput;
  customer?: ContextCustomer | null;
  steps?: Record<string, { output: unknown }>;
  run: { id: string; attempt: number; mode: 'live' | 'dry_run' | 'replay' | 'retry' };
  secrets?: Record<string, string>;
}

export interface EvaluationContext {
  event: Record<string, unknown> & { action: string };
  trigger: {
    id: string;
    type: string;
    source: TriggerSource;
    object: string;
    created: string | null;
    livemode: boolean | null;
    previousAttributes: Record<string, unknown> | null;
    recovered: boolean;
  };
  customer: ContextCustomer | null;
  steps: Record<string, { output: unknown }>;
  run: { id: string; attempt: number; mode: string };
  secrets: Record<string, string>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

// A time outside what a Date can hold (a Piano `timestamp` of 9e12 passes ingest as milliseconds but is year
// 287,000 read as seconds) is no time at all: null, never a throw from toISOString().
function iso(v: unknown): string | null {
  let d: Date;
  if (v instanceof Date) d = v;
  else if (typeof v === 'number' && Number.isFinite(v))
    d = new Date(v * 1000); // Stripe: unix seconds
  else if (typeof v === 'string') d = new Date(/^\d+$/.test(v) ? Number(v) * 1000 : v);
  else return null;
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function buildContext(input: ContextInput): EvaluationContext {
  const e = input.event;
  const payload = isObj(e.payload) ? e.payload : {};
  const { object, action } = classifyEvent({ source: e.source, type: e.type, payload: e.payload });
  let subject: Obj = payload;
  let previousAttributes: Obj | null = null;
  let created = iso(e.created);
  let livemode = e.livemode ?? null;
  if (e.source === 'stripe') {
    const data = isObj(payload.data) ? payload.data : {};
    subject = isObj(data.object) ? data.object : {};
    previousAttributes = isObj(data.previous_attributes) ? data.previous_attributes : null;
    created ??= iso(payload.created);
    if (livemode === null && typeof payload.livemode === 'boolean') livemode = payload.livemode;
  } else if (e.source === 'piano') {
    created ??= iso(payload.timestamp);
  }
  return {
    event: { ...subject, action },
    trigger: {
      id: e.id,
      type: publishedType(e),
      source: e.source,
      object,
      created,
      livemode,
      previousAttributes,
      recovered: e.recovered ?? false,
    },
    customer: input.customer ?? null,
    steps: input.steps ?? {},
    run: { ...input.run },
    secrets: input.secrets ?? {},
  };
}

// What one system's run produced; the report is made from a list of these.
import type { CpuShare, Footprint } from './memory.js';

export type SystemName = 'ceiling' | 'naive' | 'sync-engine' | 'sluice-postgres' | 'sluice-embedded';

export const SYSTEM_LABELS: Record<SystemName, string> = {
  ceiling: 'Ceiling (Fastify: verify, parse, 200; no storage)',
  naive: 'Naive handler (Express + constructEvent + one INSERT)',
  'sync-engine': "Stripe's sync engine (@supabase/stripe-sync-engine)",
  'sluice-postgres': 'Sluice on PostgreSQL',
  'sluice-embedded': 'Sluice embedded (`npm start`)',
};

export interface IngestFigures {
  perSecond: number;
  p50: number;
  p99: number;
  acked: number;
  sent: number;
  non2xx: number;
  failed: number;
  /** Answers other than 2xx by status ("none": no HTTP answer). */
  statuses: Record<string, number>;
  seconds: number;
  /** Peak under load: process RSS, plus the PSS of its database processes for Sluice. */
  peak: Footprint;
  /** Cores used during the measured phase by the server, its own database processes and the load generator. */
  cpu: CpuShare;
  /** Rows the system wrote, checked in its database after the load (null where not checked). */
  stored: number | null;
}

export interface LagFigures {
  offeredRate: number;
  acceptedRate: number;
  events: number;
  measured: number;
  unprocessed: number;
  /** Some events were still unprocessed when listed: the percentiles are at least these. */
  lowerBound: boolean;
  p50: number;
  p99: number;
  /** How it was measured. */
  how: string;
}

export interface SluiceFigures {
  readyMs: number;
  idle: Footprint;
  database: string;
  projection: { perSecond: number | null; backlog: number; failed: number; seconds: number; drained: boolean };
  deliveries: {
    perSecond: number | null;
    expected: number;
    delivered: number;
    unsigned: number;
    published: number;
    /** Deliveries of the warm-up round, not counted (absent from results written before it existed). */
    warmup?: number;
  };
}

export interface SystemResult {
  system: SystemName;
  loadavgBefore: string;
  ingest: IngestFigures;
  lag: LagFigures | null;
  sluice: SluiceFigures | null;
  notes: string[];
}

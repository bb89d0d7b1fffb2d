// How much load each phase offers, and for how long at most. `--quick` is a smoke run of a few seconds per system.
export interface Settings {
  connections: number;
  warmup: number;
  warmupSeconds: number;
  events: number;
  ingestSeconds: number;
  lagRate: number;
  lagSeconds: number;
  drainSeconds: number;
  /** Messages published and delivered once before the measured round (see runSluice), so that the measured round
   *  runs compiled code, as ingest's warm-up does. */
  deliveryWarmup: number;
  messages: number;
  endpoints: number;
  publishSeconds: number;
  deliverySeconds: number;
}

export const FULL: Settings = {
  connections: 32,
  warmup: 1_000,
  warmupSeconds: 10,
  events: 30_000,
  ingestSeconds: 10,
  lagRate: 1_000,
  lagSeconds: 10,
  drainSeconds: 45,
  deliveryWarmup: 500,
  messages: 2_500,
  endpoints: 4,
  publishSeconds: 30,
  deliverySeconds: 45,
};

export const QUICK: Settings = {
  connections: 32,
  warmup: 100,
  warmupSeconds: 3,
  events: 1_500,
  ingestSeconds: 3,
  lagRate: 200,
  lagSeconds: 2,
  drainSeconds: 15,
  deliveryWarmup: 25,
  messages: 100,
  endpoints: 2,
  publishSeconds: 10,
  deliverySeconds: 15,
};

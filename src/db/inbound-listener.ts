// LISTEN on the inbound-changes channel over a connection of its own (a pooled connection cannot hold a
// LISTEN: it is handed to other queries between notifications). When the connection drops, `onGap` says
// notifications may have been missed, and it reconnects after a pause; the cache's TTL bounds staleness in
// between.
import pg from 'pg';
import { INBOUND_CHANGES_CHANNEL } from './queries/inbound-changes.js';

export interface InboundListener {
  stop(): Promise<void>;
}

export interface InboundListenerHandlers {
  onChange(workspaceId: string): void;
  /** The listener was (re)connected or lost its connection: anything cached may have missed a change. */
  onGap(): void;
  onError?(err: unknown): void;
}

const RECONNECT_MS = 1_000;

export function listenForInboundChanges(url: string, handlers: InboundListenerHandlers): InboundListener {
  let stopped = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;

  const connect = async () => {
    timer = undefined;
    if (stopped) return;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    client = c;
    let lost = false;
    const lose = (err?: unknown) => {
      if (lost) return;
      lost = true;
      if (err !== undefined) handlers.onError?.(err);
      handlers.onGap();
      c.end().catch(() => {});
      if (client === c) client = undefined;
      if (!stopped) timer = setTimeout(() => void connect(), RECONNECT_MS).unref();
    };
    c.on('error', lose);
    c.on('end', () => lose());
    c.on('notification', (msg) => {
      if (msg.channel === INBOUND_CHANGES_CHANNEL && msg.payload) handlers.onChange(msg.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${INBOUND_CHANGES_CHANNEL}`);
      if (stopped) {
        await c.end();
        return;
      }
      // Changes made before LISTEN took effect were not heard.
      handlers.onGap();
    } catch (err) {
      lose(err);
    }
  };
  void connect();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      if (c) await c.end().catch(() => {});
    },
  };
}

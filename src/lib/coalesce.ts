// Calls made for single items in the same turn of the event loop, run as one batch: the delivery worker starts
// one attempt per claimed delivery, and their reads and their records then cost one round of queries per batch
// instead of one per delivery; the events of a batch run side by side, and their CRM writes become one statement
// per table (services/processing/batch-writes.ts). With `serial`, a batch waits for the one before it, and
// whatever arrives meanwhile goes into the next (group commit): batches grow with load instead of queueing up.

export type BatchRunner<I, O> = (items: I[]) => Promise<O[]>;

export function coalesce<I, O>(run: BatchRunner<I, O>, o: { maxBatch: number; serial: boolean }): (item: I) => Promise<O> {
  let pending: { item: I; resolve: (v: O) => void; reject: (e: unknown) => void }[] = [];
  let scheduled = false;
  let running = false;

  const flush = async (): Promise<void> => {
    scheduled = false;
    if (o.serial && running) return; // the running batch flushes again when it ends
    while (pending.length > 0) {
      const batch = pending.slice(0, o.maxBatch);
      pending = pending.slice(batch.length);
      running = o.serial;
      const done = Promise.resolve()
        .then(() => run(batch.map((p) => p.item)))
        .then(
          (results) => batch.forEach((p, i) => p.resolve(results[i]!)),
          (err: unknown) => batch.forEach((p) => p.reject(err)),
        );
      if (!o.serial) continue;
      await done;
      running = false;
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      if (!scheduled && !(o.serial && running)) {
        scheduled = true;
        setImmediate(() => void flush());
      }
    });
}

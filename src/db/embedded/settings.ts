// Settings of the embedded server, for a small machine. Tunables go into postgresql.conf once, at initdb, so an
// operator can change them there (or with ALTER SYSTEM); what makes the server private to this data dir is
// passed on the command line at every start, so it cannot be edited away.

export const SUPERUSER = 'sluice';
export const DATABASE = 'postgres';
/** Only names the socket file (.s.PGSQL.5432): nothing listens on TCP. */
export const PORT = 5432;

export const TUNABLES: Record<string, string> = {
  // Small: every page of it that the server touches counts in this machine's memory, and the operating system's
  // cache holds the rest. 24 MB, not 16: with bodies shaped like Stripe's (which compress less than the padding
  // the benchmark used before), the medians of five alternated runs at 16 and 24 MB were 1,366 and 1,714 events/s
  // ingested, receipt-to-CRM-row p99 3.3 and 1.3 s at 1,000/s, for 7 MB more under load (docs/benchmarks.md).
  shared_buffers: '24MB',
  max_connections: '40',
  // Durable commits: an acknowledged webhook survives an OS crash or a power loss.
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  // No replication from this server (backups are pg_dump): minimal WAL is less to write.
  wal_level: 'minimal',
  max_wal_senders: '0',
  wal_buffers: '4MB',
  min_wal_size: '32MB',
  // Disk, not memory: a burst of webhooks (about 10 KB of WAL each) should not force a checkpoint, and the
  // full-page writes after it, every few seconds.
  max_wal_size: '1GB',
  checkpoint_completion_target: '0.9',
  work_mem: '4MB',
  maintenance_work_mem: '32MB',
  // Background processes cost memory on a small machine; webhook queries gain nothing from parallelism or JIT.
  max_worker_processes: '4',
  max_parallel_workers: '2',
  max_parallel_workers_per_gather: '0',
  // PostgreSQL 18 reads through 3 I/O worker processes by default; synchronous reads need none, and a database
  // that fits in memory barely reads. Nothing here subscribes to logical replication: no launcher process either.
  io_method: 'sync',
  max_logical_replication_workers: '0',
  jit: 'off',
  huge_pages: 'off',
  log_checkpoints: 'off',
  log_min_messages: 'warning',
  log_line_prefix: "'%m [%p] '",
  log_timezone: 'UTC',
  timezone: 'UTC',
};

export function confBlock(): string {
  const lines = Object.entries(TUNABLES).map(([k, v]) => `${k} = ${/^'/.test(v) ? v : `'${v}'`}`);
  return `\n# Set by Sluice at initdb, for a small machine; edit here or with ALTER SYSTEM.\n${lines.join('\n')}\n`;
}

/** Command-line settings of every start: a Unix socket only, in a directory only the server's user can enter. */
export function startArgs(socketDir: string): string[] {
  // Argument values, no shell: an empty value is written as nothing; a list element with spaces is double-quoted.
  const dir = /[\s,]/.test(socketDir) ? `"${socketDir}"` : socketDir;
  return ['-c', 'listen_addresses=', '-c', `unix_socket_directories=${dir}`, '-c', 'unix_socket_permissions=0700', '-c', `port=${PORT}`];
}

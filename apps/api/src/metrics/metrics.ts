import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics (docs/operations.md, "Metrics"). Counters that other parts already keep
 * (cache hits, bcrypt queue) are read at scrape time rather than counted twice.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly updateResults: Counter<'code'>;
  readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  /** Address changes per Postgres commit (group commit). */
  readonly commitChanges: Histogram;
  readonly commitSeconds: Histogram;
  readonly patchRrsets: Histogram;
  readonly patchSeconds: Histogram;
  readonly powerdnsErrors: Counter;
  /** Wrong secrets (or no such host), by the edge they came in at. */
  readonly loginFailures: Counter<'edge'>;
  /** Logins refused without a check: over the failure limit (`blocked`) or the bcrypt queue full (`busy`). */
  readonly loginRefusals: Counter<'edge' | 'reason'>;
  /** Blocks started, per source or per (source, host). */
  readonly loginBlocks: Counter<'scope'>;
}

export interface MetricSources {
  addressChangesWaiting(): number;
  zoneWriterWaiting(): number;
  pendingPushes(): Promise<number>;
  bcrypt(): { threads: number; busy: number; queued: number; refused: number };
  credentialCache(): { hits: number; misses: number; size: number };
  hostCache(): { hits: number; misses: number; size: number };
}

/** A counter fed from a running total kept elsewhere. */
function totalCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let last = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > last) this.inc(now - last);
      last = now;
    },
  });
}

export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mydns_' });
  const updateResults = new Counter({
    name: 'mydns_update_results_total',
    help: 'Update replies, one per requested hostname (account-level codes once per request), by code',
    labelNames: ['code'],
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'mydns_http_request_duration_seconds',
    help: 'HTTP request latency by route group',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const commitChanges = new Histogram({
    name: 'mydns_address_commit_changes',
    help: 'Address changes per Postgres commit (those that arrive during a commit go in the next one)',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
    registers: [registry],
  });
  const commitSeconds = new Histogram({
    name: 'mydns_address_commit_seconds',
    help: 'Postgres commit latency of a group of address changes',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'mydns_address_changes_waiting',
    help: 'Address changes waiting for the Postgres commit in flight to finish',
    registers: [registry],
    collect() {
      this.set(sources.addressChangesWaiting());
    },
  });
  const patchRrsets = new Histogram({
    name: 'mydns_zone_writer_batch_rrsets',
    help: 'Rrsets per PATCH sent to PowerDNS',
    buckets: [2, 4, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
    registers: [registry],
  });
  const patchSeconds = new Histogram({
    name: 'mydns_powerdns_patch_seconds',
    help: 'PowerDNS PATCH latency',
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const powerdnsErrors = new Counter({
    name: 'mydns_powerdns_errors_total',
    help: 'Failed attempts to push changes to PowerDNS',
    registers: [registry],
  });
  const loginFailures = new Counter({
    name: 'mydns_login_failures_total',
    help: 'Failed logins (wrong secret or no such host), by edge: update, api, web',
    labelNames: ['edge'],
    registers: [registry],
  });
  const loginRefusals = new Counter({
    name: 'mydns_login_refusals_total',
    help: 'Logins refused without a password check: blocked (failure limit) or busy (bcrypt queue full)',
    labelNames: ['edge', 'reason'],
    registers: [registry],
  });
  const loginBlocks = new Counter({
    name: 'mydns_login_blocks_total',
    help: 'Blocks started by the failed-login limit, per source or per (source, host)',
    labelNames: ['scope'],
    registers: [registry],
  });
  new Gauge({
    name: 'mydns_zone_writer_waiting_requests',
    help: 'Update requests waiting for their change to reach PowerDNS',
    registers: [registry],
    collect() {
      this.set(sources.zoneWriterWaiting());
    },
  });
  new Gauge({
    name: 'mydns_dns_pending_changes',
    help: 'Committed changes not yet accepted by PowerDNS (the outbox)',
    registers: [registry],
    async collect() {
      this.set(await sources.pendingPushes());
    },
  });
  new Gauge({
    name: 'mydns_bcrypt_threads',
    help: 'bcrypt worker threads, by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const pool = sources.bcrypt();
      this.set({ state: 'busy' }, pool.busy);
      this.set({ state: 'idle' }, pool.threads - pool.busy);
      this.set({ state: 'queued_jobs' }, pool.queued);
    },
  });
  totalCounter(
    registry,
    'mydns_credential_cache_hits_total',
    'Credentials accepted from the cache (no bcrypt)',
    () => sources.credentialCache().hits,
  );
  totalCounter(
    registry,
    'mydns_credential_cache_misses_total',
    'Credentials checked in full',
    () => sources.credentialCache().misses,
  );
  totalCounter(
    registry,
    'mydns_host_cache_hits_total',
    'Host lookups answered from memory',
    () => sources.hostCache().hits,
  );
  totalCounter(
    registry,
    'mydns_host_cache_misses_total',
    'Host lookups read from Postgres',
    () => sources.hostCache().misses,
  );
  totalCounter(
    registry,
    'mydns_bcrypt_refused_total',
    'Password checks refused because the bcrypt queue (or one source share of it) was full',
    () => sources.bcrypt().refused,
  );
  return {
    registry,
    updateResults,
    httpDuration,
    commitChanges,
    commitSeconds,
    patchRrsets,
    patchSeconds,
    powerdnsErrors,
    loginFailures,
    loginRefusals,
    loginBlocks,
  };
}

/** Bounded route labels: the path's group, never the path itself (it holds host names). */
export function routeGroup(requestPath: string): string {
  // Express matches routes regardless of case; so must the grouping.
  const path = requestPath.toLowerCase();
  if (/^\/(nic\/update|v3\/update|update|u\.php)\/?$/i.test(path)) return 'update';
  if (path === '/checkip') return 'checkip';
  if (path === '/healthz' || path === '/readyz') return 'health';
  if (path === '/metrics') return 'metrics';
  if (path.startsWith('/api/')) return 'api';
  if (path.startsWith('/static/')) return 'static';
  if (path === '/' || /^\/(register|login|logout|dashboard)(\/|$)/.test(path)) return 'web';
  return 'other';
}

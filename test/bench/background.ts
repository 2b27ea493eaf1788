import { availableParallelism, loadavg } from 'node:os';
import { type Database, expireInactiveQuery } from '@mydns/db';
import { createLogger, createShutdown, type Logger } from '@mydns/runtime';
import { waitFor } from '../support/wait.ts';
import {
  type Api,
  type Context,
  createHostRows,
  dormancy,
  ensureZone,
  insertRecordsSqlite,
  roundsWhile,
  startApi,
  startBenchStack,
} from './million.ts';

const HOSTS = Number(process.env.BENCH_BACKGROUND_HOSTS ?? 100_000);
const ZONE = 'background.bench';
const PREFIX = 'b';
/** The periodic pass comes this long after the start: time for the start pass and the rounds before it. */
const INTERVAL_S = Number(process.env.BENCH_BACKGROUND_INTERVAL ?? 180);
const SHARES = (process.env.BENCH_BACKGROUND_SHARES ?? '1,0.2').split(',');
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * The dormancy statement before migration 20261207110000_dormancy_index, for
 * the comparison: its filter on `coalesce(last_seen_at, created_at)` had no
 * index, and `id in (select …)` joined the picks to all hosts.
 */
const BEFORE_DORMANCY_QUERY = `with expired as (
     update hosts set status = 'dormant'
      where id in (select id from hosts
                    where status = 'active' and coalesce(last_seen_at, created_at) < ?
                    order by id limit ? for update skip locked)
     returning zone, name
   ), queued as (
     insert into dns_outbox (zone, name) select zone, name from expired
   )
   select zone, name from expired order by zone, name`;

interface PlanNode {
  'Node Type'?: string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/** A statement's plan as run (EXPLAIN ANALYZE, rolled back): each scan of hosts and what it looked at, and the time. */
async function describePlan(db: Database, sql: string, bindings: unknown[]): Promise<string> {
  const trx = await db.transaction();
  try {
    const { rows } = await trx.raw<{
      rows: { 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number }] }[];
    }>(`explain (analyze, format json) ${sql}`, bindings as never);
    const result = rows[0]?.['QUERY PLAN'][0];
    const scans: string[] = [];
    const walk = (node: PlanNode) => {
      if (node['Relation Name'] === 'hosts' && node['Node Type'] !== 'ModifyTable') {
        const looked =
          ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0)) * (node['Actual Loops'] ?? 1);
        scans.push(
          `${node['Node Type']}${node['Index Name'] ? ` (${node['Index Name']})` : ''} looked at ${fmt(looked)} rows`,
        );
      }
      for (const child of node.Plans ?? []) walk(child);
    };
    if (result) walk(result.Plan);
    return `${(result?.['Execution Time'] ?? Number.NaN).toFixed(1)} ms; ${scans.join(', ')}`;
  } finally {
    await trx.rollback();
  }
}

interface PassFigures {
  readonly share: string;
  readonly before: number;
  readonly during: number;
  readonly rounds: number;
  readonly passMs: number;
}

/** One API with MYDNS_RECONCILE_SHARE=`share`: the rate before its periodic pass, during it, and the pass's time. */
async function reconcilePass(ctx: Context, share: string): Promise<{ figures: PassFigures; api: Api }> {
  const api = await startApi(ctx.env, ZONE, {
    MYDNS_RECONCILE_SHARE: share,
    MYDNS_RECONCILE_INTERVAL: `${INTERVAL_S}s`,
  });
  const startedAt = performance.now();
  try {
    // The pass at start first (unmeasured), then the credential cache (one round).
    await waitFor(() => api.reconcilePasses().ended >= 1, {
      timeoutMs: 600_000,
      intervalMs: 200,
      message: 'the start pass',
    });
    await roundsWhile(api, 'b', oneRound());
    const before = await roundsWhile(api, 'b', rounds(3));
    if (api.reconcilePasses().started > 1)
      throw new Error(`the periodic pass came before the rounds ended: raise BENCH_BACKGROUND_INTERVAL`);
    await waitFor(() => api.reconcilePasses().started >= 2, {
      timeoutMs: INTERVAL_S * 1000 + 60_000,
      intervalMs: 50,
      message: 'the periodic pass',
    });
    const passStarted = performance.now();
    const during = await roundsWhile(api, 'b', () => api.reconcilePasses().ended < 2);
    await waitFor(() => api.reconcilePasses().ended >= 2, {
      timeoutMs: 600_000,
      intervalMs: 50,
      message: 'the pass',
    });
    const passMs = performance.now() - passStarted;
    console.log(
      `   share ${share}: before the pass ${fmt(before.perSecond)}/s; during it ${fmt(during.perSecond)}/s ` +
        `(${during.rounds} rounds): ratio ${(during.perSecond / before.perSecond).toFixed(2)} (aim ≥ 0.8); ` +
        `the pass took ${seconds(passMs)} (API up ${seconds(performance.now() - startedAt)})`,
    );
    return {
      figures: { share, before: before.perSecond, during: during.perSecond, rounds: during.rounds, passMs },
      api,
    };
  } catch (error) {
    await api.stop();
    throw error;
  }
}

const oneRound = () => rounds(1);
function rounds(count: number): () => boolean {
  let left = count;
  return () => left-- > 0;
}

export async function runBackgroundBenchmark(): Promise<void> {
  const logger: Logger = createLogger({ level: process.env.BENCH_LOG ? 'debug' : 'warn', format: 'pretty' });
  const shutdown = createShutdown(logger);
  let api: Api | undefined;
  try {
    const ctx = await startBenchStack('background', 'bench-password', logger, shutdown);
    const { db, dns } = ctx;
    console.log(
      `\n14. the background jobs' share — ${new Date().toISOString()}, ${availableParallelism()} cores, ` +
        `${fmt(HOSTS)} hosts, load average ${loadavg()[0]?.toFixed(1)}`,
    );
    await ensureZone(dns, ZONE);
    const stale = Math.floor(HOSTS / 10);
    await createHostRows(db, ZONE, PREFIX, HOSTS, ctx.hash, HOSTS - stale);
    insertRecordsSqlite(ctx.sqlitePath, ZONE, PREFIX, HOSTS);

    console.log(`   a full reconciler pass (nothing to repair), good updates/s of 1,000 hosts changing:`);
    const figures: PassFigures[] = [];
    for (const share of SHARES) {
      const measured = await reconcilePass(ctx, share);
      figures.push(measured.figures);
      if (share === SHARES[SHARES.length - 1]) api = measured.api;
      else await measured.api.stop();
    }
    if (!api) throw new Error('no API left for the dormancy job');
    const normal = figures[figures.length - 1]?.before ?? 0;
    const dormant = await dormancy(ctx, api, PREFIX, normal);
    console.log(`   the dormancy job, ${fmt(stale)} of ${fmt(HOSTS)} hosts inactive for 40 days:`);
    console.log(
      `   ${dormant.passes} passes (at most 10,000 hosts each) of ${seconds(dormant.perPassMs)} on average; ` +
        `${fmt(dormant.dormant)} dormant and out of PowerDNS after ${seconds(dormant.allMs)}; ` +
        `good updates/s meanwhile ${fmt(dormant.rate)} vs ${fmt(normal)}: ratio ${dormant.ratio.toFixed(2)}`,
    );
    console.log(`   a pass with nothing to do: ${seconds(dormant.idleMs)}; its statement, EXPLAIN ANALYZE:`);
    const cutoff = new Date(Date.now() - 30 * 86_400_000);
    const now = expireInactiveQuery(cutoff, 10_000);
    console.log(`     now:    ${await describePlan(db, now.sql, now.bindings)}`);
    console.log(`     before: ${await describePlan(db, BEFORE_DORMANCY_QUERY, [cutoff, 10_000])}`);
  } finally {
    await api?.stop();
    await shutdown.run('background benchmark finished');
  }
}

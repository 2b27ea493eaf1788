import type { Database } from '@mydns/db';
import { startSmtpSink } from '../support/smtp.ts';
import { waitFor } from '../support/wait.ts';
import { type LoadResult, runLoad } from './load.ts';
import { sinkMessages } from './smtp.ts';
import {
  authHeader,
  createHosts,
  describeLoad,
  fmt,
  median,
  pct,
  removeHosts,
  type StackEnv,
  startApi,
} from './stack.ts';

/**
 * Benchmark 12: good updates/s while the mail worker sends a notice for every
 * change (notify.email on, README "Accounts") against the same with notices
 * off, on one server in one run, alternated three times, medians. Every host
 * is in an account of its own with a verified address, and the mails go to a
 * real smtp-sink (Postfix's), started and stopped here.
 *
 * A host gets at most one notice per 10 minutes, and that window is not a
 * setting: so each round changes hosts of its own, each once, and every change
 * is the first in its host's window (a notice each). The notice pass runs
 * every second here (MYDNS_MAINTENANCE_INTERVAL=1s, for both kinds of round),
 * so the mails are queued and sent while the round runs; the next round starts
 * once the last one is in the sink.
 */
export async function runNoticesBenchmark(options: {
  db: Database;
  env: StackEnv;
  hash: string;
  concurrency: number;
}): Promise<void> {
  const { db } = options;
  const zone = 'notices.bench';
  const perRound = Number(process.env.BENCH_NOTICES_HOSTS ?? 1000);
  const reps = 3;
  const rounds = Array.from({ length: reps }, (_, rep) => [`off${rep}-`, `on${rep}-`]).flat();
  for (const prefix of rounds) await createHosts(db, zone, prefix, perRound, options.hash, '10.255.0.1');
  await db.raw(
    `with made as (
       insert into accounts (email, password_hash, email_verified_at)
       select 'owner-' || name || '@bench.example', '', now() from hosts where zone = ?
       returning id, email
     )
     update hosts h set account_id = made.id
       from made where h.zone = ? and made.email = 'owner-' || h.name || '@bench.example'`,
    [zone, zone],
  );
  // On: as a PATCH of notify.email does it (the current address is the one already told).
  await db.raw(
    "update hosts set notify_email = true, notified_ipv4 = ipv4 where zone = ? and name like 'on%'",
    [zone],
  );
  const sink = await startSmtpSink({ args: ['-c'] });
  const delivered = () => sinkMessages(sink.output());
  let api: Awaited<ReturnType<typeof startApi>> | undefined;
  const off: LoadResult[] = [];
  const on: { load: LoadResult; duringRound: number; allAfterSeconds: number }[] = [];
  try {
    api = await startApi(options.env, zone, {
      MYDNS_MAIL_URL: `smtp://127.0.0.1:${sink.port}?tls=none`,
      MYDNS_PUBLIC_URL: 'https://dyn.example.net',
      MYDNS_MAINTENANCE_INTERVAL: '1s',
    });
    const port = api.port;
    const path = (prefix: string, i: number, octet: number) =>
      `/nic/update?hostname=${prefix}${i + 1}&myip=10.${octet}.${(i + 1) >> 8}.${(i + 1) & 255}`;
    // One nochg per host first: each host's bcrypt is paid before any round is timed.
    for (const prefix of rounds) {
      const warm = await runLoad({
        port,
        concurrency: 8,
        total: perRound,
        maxMs: 300_000,
        next: (i) => ({
          path: `/nic/update?hostname=${prefix}${i + 1}&myip=10.255.0.1`,
          headers: authHeader(`${prefix}${i + 1}`),
        }),
      });
      if (warm.bodies.nochg !== perRound) throw new Error(`warm-up: ${describeLoad(warm)}`);
    }
    for (const [index, prefix] of rounds.entries()) {
      const before = delivered();
      const started = performance.now();
      const load = await runLoad({
        port,
        concurrency: options.concurrency,
        total: perRound,
        maxMs: 120_000,
        next: (i) => ({ path: path(prefix, i, 1 + index), headers: authHeader(`${prefix}${i + 1}`) }),
      });
      if ((load.bodies.good ?? 0) !== perRound) throw new Error(`round ${prefix}: ${describeLoad(load)}`);
      if (prefix.startsWith('off')) {
        off.push(load);
        continue;
      }
      const duringRound = delivered() - before;
      await waitFor(() => delivered() >= before + perRound, {
        timeoutMs: 300_000,
        message: () => `${perRound} notices in smtp-sink (${delivered() - before} so far)`,
      });
      on.push({ load, duringRound, allAfterSeconds: (performance.now() - started) / 1000 });
    }
  } finally {
    await api?.stop();
    await sink.stop();
    await removeHosts(db, zone);
    await db('accounts').where('email', 'like', '%@bench.example').delete();
  }
  const offMedian = median(off);
  const onMedian = median(on.map((round) => round.load));
  const onRound = on.find((round) => round.load === onMedian);
  console.log(
    `\n12. good updates while every change is mailed (notify.email on) vs notices off (${fmt(perRound)} hosts per round, each in an account of its own, alternated ${reps}×, medians)`,
  );
  console.log(
    "   every change is the first in its host's 10-minute window (distinct hosts: the window is not a setting); notice pass every 1 s; mails to smtp-sink",
  );
  console.log(`   baseline, notices off:    ${describeLoad(offMedian)}`);
  console.log(`   notices on:               ${describeLoad(onMedian)}`);
  console.log(
    `   that round's ${fmt(perRound)} notices: ${fmt(onRound?.duringRound ?? 0)} in smtp-sink when its last update was answered, all after ${(onRound?.allAfterSeconds ?? 0).toFixed(1)} s`,
  );
  const rates = (results: readonly LoadResult[]) => results.map((result) => fmt(result.perSecond)).join(', ');
  console.log(`   every round, in order: off ${rates(off)}/s; on ${rates(on.map((round) => round.load))}/s`);
  console.log(
    `   ratio: ${pct(onMedian.perSecond, offMedian.perSecond)} of the notices-off rate (aim ≥ 90%)`,
  );
}

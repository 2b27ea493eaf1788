/**
 * SMTP relay benchmarks (README, "Benchmarks"). Each figure is printed beside its baseline
 * from the same run on the same machine:
 *
 * 1. concurrency: 1,000 idle sessions held open on a fresh relay, its RSS
 *    before and with them, and the 1,001st session's answer (421);
 * 2. throughput: Postfix's smtp-source into smtp-sink directly (the ceiling),
 *    through the relay (a separate process, hosts in its own Postgres), and
 *    through the peer an operator would use instead, a Postfix of our own
 *    relaying the same domain to the same sink (test/bench/postfix.ts); one
 *    connection per message and connections reused (-d). Postfix queues (it
 *    answers 250 before it delivers) and the relay passes through, so both
 *    the accept rate and the rate messages arrive at the sink are measured;
 *    the ratio compared is the latter, end to end;
 * 3. latency per transaction: swaks step timing (-stl) and a node client
 *    timing whole transactions, until the 250 and until the sink has the
 *    message, directly, through the relay and through Postfix.
 *
 * Loopback only, every loop bounded, every process stopped by PID.
 * `runSmtpBenchmarks()` is called from test/bench/run.ts; this file also runs
 * alone: `npx tsx test/bench/smtp.ts`.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, migrateLatest, startEmbeddedPostgres } from '@mydns/db';
import { createLogger, createShutdown } from '@mydns/runtime';
import { freePort } from '../support/ports.ts';
import { requireProgram, runProgram, startProgram } from '../support/programs.ts';
import { rawSmtp, runSwaks, startSmtpSink, waitForPort } from '../support/smtp.ts';
import { startPostfixRelay } from './postfix.ts';

const root = resolve(import.meta.dirname, '../..');
const ZONE = 'bench-smtp.test';
const MESSAGES = Number(process.env.BENCH_SMTP_MESSAGES ?? 2000);
const SESSIONS = Number(process.env.BENCH_SMTP_SESSIONS ?? 20);
const SIZE = Number(process.env.BENCH_SMTP_SIZE ?? 10_240);
const IDLE_SESSIONS = 1000;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => `${n.toFixed(2)} ms`;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
};

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** smtp-source: `messages` messages of `size` bytes over `sessions` parallel sessions; msgs/s. */
async function smtpSource(
  port: number,
  options: { messages: number; sessions: number; size: number; reuse?: boolean },
): Promise<number> {
  const binary = requireProgram('smtp-source', 'postfix');
  const started = performance.now();
  const result = await runProgram(
    binary,
    [
      ...(options.reuse ? ['-d'] : []),
      '-s',
      String(options.sessions),
      '-m',
      String(options.messages),
      '-l',
      String(options.size),
      '-M',
      'client.bench.test',
      '-f',
      'sender@bench.test',
      '-t',
      `someone@alice.${ZONE}`,
      `127.0.0.1:${port}`,
    ],
    { timeoutMs: 300_000 },
  );
  const output = `${result.stdout}${result.stderr}`;
  const code = result.code ?? -1;
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0 || /fatal|error|warning/i.test(output))
    throw new Error(`smtp-source failed (exit ${code}):\n${output.slice(-2000)}`);
  return options.messages / seconds;
}

/** Messages smtp-sink has counted (its -c counter: `... mesg=N`), read from the end of its output. */
export function sinkMessages(output: string): number {
  const at = output.lastIndexOf('mesg=');
  if (at < 0) return 0;
  return Number(/^mesg=(\d+)/.exec(output.slice(at, at + 20))?.[1] ?? 0);
}

/** Polls `count` every millisecond until it reaches `target`; the time it did, or a failure after `timeoutMs`. */
async function whenCounted(count: () => number, target: number, timeoutMs: number, what: string) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (count() >= target) return performance.now();
    if (performance.now() > deadline)
      throw new Error(`${what}: ${count()} of ${target} messages arrived within ${timeoutMs} ms`);
    await sleep(1);
  }
}

/** One load run: the rate smtp-source was answered at, and the rate messages arrived at the sink. */
interface Delivery {
  readonly accepted: number;
  readonly delivered: number;
}

/**
 * smtp-source into `port`, then until every message has arrived at the sink.
 * A queueing peer (Postfix) answers before it delivers; a pass-through one
 * (MyDNS's relay, the sink itself) after: both rates, from the same start.
 */
async function deliverRun(
  port: number,
  load: { messages: number; sessions: number; size: number; reuse: boolean },
  arrived: () => number,
): Promise<Delivery> {
  const before = arrived();
  const started = performance.now();
  const accepted = await smtpSource(port, load);
  const done = await whenCounted(arrived, before + load.messages, 300_000, `the run into port ${port}`);
  if (arrived() !== before + load.messages)
    throw new Error(`${arrived() - before} of ${load.messages} messages arrived (into port ${port})`);
  return { accepted, delivered: load.messages / ((done - started) / 1000) };
}

interface Timed {
  /** From connect to the end of data's 250. */
  readonly accepted: number;
  /** From connect to the sink counting the message. */
  readonly delivered: number;
}

/** One whole transaction with a node client, timed; then QUIT, and until the sink has counted it. */
async function timedTransaction(port: number, arrived: () => number): Promise<Timed> {
  const before = arrived();
  const started = performance.now();
  const client = await rawSmtp(port);
  await client.reply();
  client.send('EHLO client.bench.test\r\n');
  await client.reply();
  client.send('MAIL FROM:<sender@bench.test>\r\n');
  await client.reply();
  client.send(`RCPT TO:<someone@alice.${ZONE}>\r\n`);
  const rcpt = await client.reply();
  if (!rcpt.startsWith('250')) throw new Error(`RCPT: ${rcpt}`);
  client.send('DATA\r\n');
  await client.reply();
  client.send('Subject: latency\r\n\r\nhello\r\n.\r\n');
  const done = await client.reply();
  if (!done.startsWith('250')) throw new Error(`end of data: ${done}`);
  const accepted = performance.now() - started;
  client.send('QUIT\r\n');
  await client.reply();
  client.close();
  const delivered =
    (await whenCounted(arrived, before + 1, 30_000, `one message into port ${port}`)) - started;
  return { accepted, delivered };
}

/** swaks -stl: the sum of its per-step response times for one transaction, in ms. */
async function swaksSteps(port: number): Promise<number> {
  const result = await runSwaks([
    '--server',
    '127.0.0.1',
    '--port',
    String(port),
    '--ehlo',
    'client.bench.test',
    '--from',
    'sender@bench.test',
    '--to',
    `someone@alice.${ZONE}`,
    '-stl',
  ]);
  if (result.code !== 0) throw new Error(`swaks failed:\n${result.output}`);
  return [...result.output.matchAll(/response in ([0-9.]+)s/g)].reduce(
    (sum, m) => sum + Number(m[1]) * 1000,
    0,
  );
}

function openIdle(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolveOpen, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    const timer = setTimeout(
      () => reject(new Error(`no greeting on an idle session from ${localAddress}`)),
      20_000,
    );
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\n')) {
        clearTimeout(timer);
        if (text.startsWith('220')) resolveOpen(socket);
        else reject(new Error(`idle session from ${localAddress} got: ${text.trim()}`));
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export async function runSmtpBenchmarks(): Promise<void> {
  requireProgram('smtp-source', 'postfix');
  requireProgram('smtp-sink', 'postfix');
  requireProgram('swaks', 'swaks');
  const logger = createLogger({ level: process.env.BENCH_LOG ? 'debug' : 'warn', format: 'pretty' });
  const shutdown = createShutdown(logger);
  try {
    const work = mkdtempSync(join(tmpdir(), 'mydns-bench-smtp-'));
    chmodSync(work, 0o755);
    shutdown.add('work folder', () => rmSync(work, { recursive: true, force: true }));
    const postgres = await startEmbeddedPostgres({
      dataDir: join(work, 'pg'),
      logger,
      database: 'mydns_bench_smtp',
      port: await freePort(),
      durability: 'fast',
    });
    shutdown.add('postgres', () => postgres.stop());
    const db = createDatabase({ url: postgres.url, poolMax: 2 });
    shutdown.add('db', () => db.destroy());
    await migrateLatest(db);

    const sink = await startSmtpSink({ args: ['-c'] });
    shutdown.add('smtp-sink', async () => {
      await sink.stop();
    });
    await db.raw(
      `insert into hosts (zone, name, password_hash, ipv4, mail_enabled, mail_port, mail_client_address, mail_tls)
       values (?, 'alice', 'x', '127.0.0.1', true, ?, 'xclient', 'opportunistic')`,
      [ZONE, sink.port],
    );

    const startRelayProcess = async (settings: Record<string, string>) => {
      const port = await freePort();
      const program = startProgram(join(root, 'node_modules/.bin/tsx'), ['apps/smtp-relay/src/main.ts'], {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'production',
          LOG_LEVEL: 'warn',
          DATABASE_URL: postgres.url,
          MYDNS_ZONE: ZONE,
          MYDNS_SMTP_PORT: String(port),
          MYDNS_SMTP_ADDRESS: '127.0.0.1',
          MYDNS_RELAY_ALLOW_PRIVATE_TARGETS: 'true',
          // One load generator on one address sends far more than any real MTA would.
          MYDNS_RELAY_CLIENT_SESSIONS: '2000',
          MYDNS_RELAY_CLIENT_RATE: '10000000/1m',
          MYDNS_RELAY_HOST_SESSIONS: '200',
          MYDNS_RELAY_CLIENT_HOST_SESSIONS: '200',
          // smtp-source -d sends every message of a session over one connection.
          MYDNS_RELAY_MAX_TRANSACTIONS: '100000',
          ...settings,
        },
      });
      shutdown.add(`relay on ${port}`, async () => {
        await program.stop();
      });
      await waitForPort(port, { timeoutMs: 30_000, program });
      return { port, program };
    };
    const { port: relayPort, program: relay } = await startRelayProcess({});
    // The option measured: the same relay without backend connections shared across sessions.
    const { port: unsharedPort } = await startRelayProcess({ MYDNS_RELAY_BACKEND_SHARE: 'false' });
    // tsx runs a small parent process; the relay's memory is its child's.
    let relayPid = relay.pid;
    try {
      const child = Number(
        readFileSync(`/proc/${relay.pid}/task/${relay.pid}/children`, 'utf8').trim().split(/\s+/)[0],
      );
      if (child > 0) relayPid = child;
    } catch {
      // no /proc children list: measure the process we started
    }

    console.log(
      `\nSMTP relay benchmarks — ${new Date().toISOString()}, ${availableParallelism()} cores; ` +
        `smtp-source ${MESSAGES} messages of ${fmt(SIZE)} bytes over ${SESSIONS} sessions, ` +
        'relay with XCLIENT to smtp-sink, all on loopback',
    );

    // 1. 1,000 idle sessions, then one more (first, on a fresh process: later runs grow the heap).
    await new Promise((r) => setTimeout(r, 500));
    const rssBefore = rssMiB(relayPid);
    const idle: Socket[] = [];
    try {
      for (let batch = 0; batch < IDLE_SESSIONS / 100; batch++) {
        // Ten client addresses per batch, ten sessions each: within the per-address limit.
        const opening: Promise<Socket>[] = [];
        for (let i = 0; i < 100; i++)
          opening.push(openIdle(relayPort, `127.0.${10 + batch}.${1 + (i % 10)}`));
        idle.push(...(await Promise.all(opening)));
      }
      await new Promise((r) => setTimeout(r, 500));
      const rssWith = rssMiB(relayPid);
      const extra = await rawSmtp(relayPort, { localAddress: '127.0.99.1' });
      const answer = (await extra.reply()).trim();
      extra.close();
      console.log(`\n1. ${fmt(IDLE_SESSIONS)} idle sessions held open`);
      console.log(`   baseline: relay RSS with no session: ${rssBefore.toFixed(1)} MiB`);
      console.log(
        `   with ${fmt(idle.length)} idle sessions:          ${rssWith.toFixed(1)} MiB (+${((1024 * (rssWith - rssBefore)) / idle.length).toFixed(1)} KiB per session)`,
      );
      console.log(`   session ${fmt(IDLE_SESSIONS + 1)} was answered: ${answer}`);
      if (!answer.startsWith('421')) throw new Error(`session ${IDLE_SESSIONS + 1} got "${answer}", not 421`);
    } finally {
      for (const socket of idle) socket.destroy();
    }

    // The peer: Postfix relaying the same domain to the same smtp-sink (test/bench/postfix.ts).
    const postfix = await startPostfixRelay({
      dir: join(work, 'postfix'),
      port: await freePort(),
      domain: `alice.${ZONE}`,
      homePort: sink.port,
    });
    shutdown.add('postfix', () => postfix.stop());
    const arrivedSoFar = () => sinkMessages(sink.output());
    const peers = [
      { name: 'direct', port: sink.port },
      { name: 'relay', port: relayPort },
      { name: 'unshared', port: unsharedPort },
      { name: 'postfix', port: postfix.port },
    ] as const;

    // 2. Throughput: warm up every path, then alternate them, median of three; without and with reuse.
    const throughput = async (reuse: boolean) => {
      const load = { messages: MESSAGES, sessions: SESSIONS, size: SIZE, reuse };
      for (const peer of peers) await deliverRun(peer.port, { ...load, messages: 200 }, arrivedSoFar);
      const runs = new Map<string, Delivery[]>(peers.map((peer) => [peer.name, []]));
      for (let round = 0; round < 3; round++) {
        for (const peer of peers) runs.get(peer.name)?.push(await deliverRun(peer.port, load, arrivedSoFar));
      }
      const pick = (name: string) => {
        const list = runs.get(name) ?? [];
        return {
          accepted: median(list.map((run) => run.accepted)),
          delivered: median(list.map((run) => run.delivered)),
        };
      };
      return {
        direct: pick('direct'),
        relay: pick('relay'),
        unshared: pick('unshared'),
        postfix: pick('postfix'),
      };
    };
    for (const reuse of [false, true]) {
      const rates = await throughput(reuse);
      const label = reuse ? '2b' : '2a';
      console.log(
        `\n${label}. throughput, ${reuse ? 'each session reusing its connection (smtp-source -d)' : 'one connection per message'} (median of 3 runs, after a warm-up)`,
      );
      console.log(
        `   baseline: smtp-source → smtp-sink directly:  ${fmt(rates.direct.accepted)} msgs/s (no hop; the ceiling)`,
      );
      console.log(
        `   through MyDNS's relay:                       ${fmt(rates.relay.accepted)} msgs/s accepted, ${fmt(rates.relay.delivered)} msgs/s arrived at the sink (it passes through: the same)`,
      );
      console.log(
        `   MyDNS without shared backend connections:   ${fmt(rates.unshared.delivered)} msgs/s (MYDNS_RELAY_BACKEND_SHARE=false; sharing gives ${(rates.relay.delivered / rates.unshared.delivered).toFixed(2)}×)`,
      );
      console.log(
        `   through Postfix (the peer, queueing):        ${fmt(rates.postfix.accepted)} msgs/s accepted, ${fmt(rates.postfix.delivered)} msgs/s arrived at the sink`,
      );
      console.log(
        `   ratio MyDNS ÷ Postfix, end to end (arrived at the sink): ${(rates.relay.delivered / rates.postfix.delivered).toFixed(2)}× (aim ≥ 1.0); ` +
          `accepted: ${(rates.relay.accepted / rates.postfix.accepted).toFixed(2)}×; ` +
          `MyDNS vs direct: ${Math.round((100 * rates.relay.delivered) / rates.direct.delivered)}%`,
      );
    }

    // 3. Latency per transaction, sequential: until the client has its 250, and until the sink has the message.
    const swaksTimes = new Map<string, number[]>(peers.map((peer) => [peer.name, []]));
    for (let i = 0; i < 15; i++) {
      for (const peer of peers) swaksTimes.get(peer.name)?.push(await swaksSteps(peer.port));
    }
    const timed = new Map<string, Timed[]>(peers.map((peer) => [peer.name, []]));
    for (let i = 0; i < 20; i++) {
      for (const peer of peers) await timedTransaction(peer.port, arrivedSoFar);
    }
    for (let i = 0; i < 200; i++) {
      for (const peer of peers) timed.get(peer.name)?.push(await timedTransaction(peer.port, arrivedSoFar));
    }
    const stat = (name: string, key: keyof Timed) => {
      const values = (timed.get(name) ?? []).map((t) => t[key]);
      return { p50: median(values), p95: percentile(values, 0.95) };
    };
    const shown = (s: { p50: number; p95: number }) => `${ms(s.p50)} (p95 ${ms(s.p95)})`;
    const swaks = (name: string) => median(swaksTimes.get(name) ?? []);
    console.log('\n3. latency per transaction (connect … QUIT, one recipient, 10-byte body, sequential)');
    console.log(
      `   swaks -stl, sum of step times, median of 15: direct ${ms(swaks('direct'))}, MyDNS ${ms(swaks('relay'))} ` +
        `(+${ms(swaks('relay') - swaks('direct'))}), Postfix ${ms(swaks('postfix'))} (+${ms(swaks('postfix') - swaks('direct'))}); swaks shows whole milliseconds`,
    );
    for (const key of ['accepted', 'delivered'] as const) {
      const direct = stat('direct', key);
      const relayed = stat('relay', key);
      const queued = stat('postfix', key);
      const unshared = stat('unshared', key);
      console.log(
        `   node client, until ${key === 'accepted' ? "the end of data's 250" : 'the sink counted it'}, median of 200: ` +
          `direct ${shown(direct)}; MyDNS ${shown(relayed)}, adds ${ms(relayed.p50 - direct.p50)} ` +
          `(unshared ${ms(unshared.p50 - direct.p50)}); ` +
          `Postfix ${shown(queued)}, adds ${ms(queued.p50 - direct.p50)}`,
      );
    }
  } finally {
    await shutdown.run('smtp benchmarks finished');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runSmtpBenchmarks();
}

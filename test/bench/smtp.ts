/**
 * SMTP relay benchmarks (README, "Benchmarks"). Each figure is printed beside its baseline
 * from the same run on the same machine:
 *
 * 1. concurrency: 1,000 idle sessions held open on a fresh relay, its RSS
 *    before and with them, and the 1,001st session's answer (421);
 * 2. throughput: Postfix's smtp-source into smtp-sink directly, and the same
 *    run through the relay (a separate process, hosts in its own Postgres),
 *    with one connection per message and with connections reused (-d);
 * 3. latency added per transaction: swaks step timing (-stl) and a node
 *    client timing whole transactions, directly and through the relay.
 *
 * Loopback only, every loop bounded, every process stopped by PID.
 * `runSmtpBenchmarks()` is called from test/bench/run.ts; this file also runs
 * alone: `npx tsx test/bench/smtp.ts`.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createDatabase, migrateLatest, startEmbeddedPostgres } from '@mydns/db';
import { createLogger, createShutdown } from '@mydns/runtime';
import { freePort } from '../support/ports.ts';
import { requireProgram, runProgram, startProgram } from '../support/programs.ts';
import { rawSmtp, runSwaks, startSmtpSink, waitForPort } from '../support/smtp.ts';
import { waitFor } from '../support/wait.ts';

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

/** Messages smtp-sink has counted (its -c counters: `... mesg=N`). */
function sinkMessages(output: string): number {
  const all = [...output.matchAll(/mesg=(\d+)/g)];
  return Number(all[all.length - 1]?.[1] ?? 0);
}

/** One whole transaction with a node client, timed (connect to QUIT's reply). */
async function timedTransaction(port: number): Promise<number> {
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
  client.send('QUIT\r\n');
  await client.reply();
  const elapsed = performance.now() - started;
  client.close();
  return elapsed;
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

    const relayPort = await freePort();
    const relay = startProgram(join(root, 'node_modules/.bin/tsx'), ['apps/smtp-relay/src/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        DATABASE_URL: postgres.url,
        MYDNS_ZONE: ZONE,
        MYDNS_SMTP_PORT: String(relayPort),
        MYDNS_SMTP_ADDRESS: '127.0.0.1',
        MYDNS_RELAY_ALLOW_PRIVATE_TARGETS: 'true',
        // One load generator on one address sends far more than any real MTA would.
        MYDNS_RELAY_CLIENT_SESSIONS: '2000',
        MYDNS_RELAY_CLIENT_RATE: '10000000/1m',
        MYDNS_RELAY_HOST_SESSIONS: '200',
        // smtp-source -d sends every message of a session over one connection.
        MYDNS_RELAY_MAX_TRANSACTIONS: '100000',
      },
    });
    shutdown.add('relay', async () => {
      await relay.stop();
    });
    await waitForPort(relayPort, { timeoutMs: 30_000, program: relay });
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

    // 2. Throughput: warm up both paths, then alternate, median of three; without and with connection reuse.
    const throughput = async (reuse: boolean) => {
      const load = { messages: MESSAGES, sessions: SESSIONS, size: SIZE, reuse };
      await smtpSource(sink.port, { ...load, messages: 200 });
      await smtpSource(relayPort, { ...load, messages: 200 });
      const direct: number[] = [];
      const relayed: number[] = [];
      for (let round = 0; round < 3; round++) {
        direct.push(await smtpSource(sink.port, load));
        const before = sinkMessages(sink.output());
        relayed.push(await smtpSource(relayPort, load));
        const arrived = () => sinkMessages(sink.output()) - before;
        await waitFor(() => arrived() >= MESSAGES, {
          timeoutMs: 5000,
          intervalMs: 20,
          message: () => `every message through the relay (${arrived()} of ${MESSAGES} arrived)`,
        });
        if (arrived() !== MESSAGES)
          throw new Error(`through the relay ${arrived()} of ${MESSAGES} messages arrived`);
      }
      return { direct: median(direct), relayed: median(relayed) };
    };
    for (const reuse of [false, true]) {
      const rates = await throughput(reuse);
      console.log(
        `\n${reuse ? '2b' : '2a'}. throughput, ${reuse ? 'each session reusing its connection (smtp-source -d)' : 'one connection per message'} (median of 3 runs, after a warm-up)`,
      );
      console.log(`   baseline: smtp-source → smtp-sink directly:  ${fmt(rates.direct)} msgs/s`);
      console.log(
        `   smtp-source → relay → smtp-sink:             ${fmt(rates.relayed)} msgs/s (every message arrived)`,
      );
      console.log(`   ratio: ${Math.round((100 * rates.relayed) / rates.direct)}% of direct (aim ≥ 80%)`);
    }

    // 3. Latency per transaction.
    const swaksDirect: number[] = [];
    const swaksRelay: number[] = [];
    for (let i = 0; i < 15; i++) {
      swaksDirect.push(await swaksSteps(sink.port));
      swaksRelay.push(await swaksSteps(relayPort));
    }
    const nodeDirect: number[] = [];
    const nodeRelay: number[] = [];
    for (let i = 0; i < 20; i++) {
      await timedTransaction(sink.port);
      await timedTransaction(relayPort);
    }
    for (let i = 0; i < 200; i++) {
      nodeDirect.push(await timedTransaction(sink.port));
      nodeRelay.push(await timedTransaction(relayPort));
    }
    console.log('\n3. latency per transaction (connect … QUIT, one recipient, sequential)');
    console.log(
      `   swaks -stl, sum of step times, median of 15: direct ${ms(median(swaksDirect))}, through the relay ${ms(median(swaksRelay))} ` +
        `(+${ms(median(swaksRelay) - median(swaksDirect))}; swaks shows whole milliseconds)`,
    );
    console.log(
      `   node client, median (p95) of 200:          direct ${ms(median(nodeDirect))} (${ms(percentile(nodeDirect, 0.95))}), ` +
        `through the relay ${ms(median(nodeRelay))} (${ms(percentile(nodeRelay, 0.95))}); added ${ms(median(nodeRelay) - median(nodeDirect))}`,
    );
  } finally {
    await shutdown.run('smtp benchmarks finished');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runSmtpBenchmarks();
}

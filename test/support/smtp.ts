/**
 * Helpers for the SMTP relay's integration tests and benchmark: the real
 * Debian peers (swaks, Postfix's smtp-sink and smtp-source, aiosmtpd), a
 * scripted node:net backend for failures, a raw SMTP client, and a relay
 * started in this process. Everything listens on 127.0.0.0/8 only, and every
 * process started here is stopped here, by PID. A missing program is a
 * failure naming its Debian package, never a skip.
 */
import { accessSync, constants } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { createLogger, createShutdown } from '@mydns/runtime';
import { loadRelayConfig, type RelayConfig } from '../../apps/smtp-relay/src/config.ts';
import { type RelayDeps, type RunningRelay, startRelay } from '../../apps/smtp-relay/src/server.ts';
import { freePort } from './ports.ts';
import { requireProgram, runProgram, type StartedProgram, startProgram } from './programs.ts';
import { waitFor } from './wait.ts';

export const isRoot = process.getuid?.() === 0;

/** aiosmtpd lives in Debian's python3 (a pyenv or venv python3 lacks the package). */
export function requireAiosmtpdPython(): string {
  const python = '/usr/bin/python3';
  try {
    accessSync(python, constants.X_OK);
  } catch {
    throw new Error(
      '/usr/bin/python3 is not installed: apt-get install --no-install-recommends python3-aiosmtpd',
    );
  }
  return python;
}

/** Something accepts TCP connections on `host:port`. */
function accepts(port: number, host: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits until `program` listens on `host:port`; fails at once if it exits first. */
export function waitForPort(
  port: number,
  options: { host?: string; timeoutMs?: number; program?: StartedProgram } = {},
): Promise<void> {
  const host = options.host ?? '127.0.0.1';
  const { program } = options;
  return waitFor(() => accepts(port, host), {
    timeoutMs: options.timeoutMs ?? 10_000,
    intervalMs: 50,
    message: () => `something to listen on ${host}:${port}${program ? `\n${program.output()}` : ''}`,
    ...(program ? { giveUp: () => (program.hasExited() ? 'the program exited' : undefined) } : {}),
  });
}

export interface SmtpSink extends StartedProgram {
  readonly host: string;
  readonly port: number;
}

/**
 * Postfix's smtp-sink on `host:port` (a free port unless given). As root it
 * must drop privileges (`-u nobody`). `-v` shows every command (XCLIENT
 * lines included) in its output.
 */
export async function startSmtpSink(
  options: { host?: string; port?: number; args?: readonly string[] } = {},
): Promise<SmtpSink> {
  const binary = requireProgram('smtp-sink', 'postfix');
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  const args = [...(isRoot ? ['-u', 'nobody'] : []), ...(options.args ?? []), `${host}:${port}`, '256'];
  const child = startProgram(binary, args);
  try {
    await waitForPort(port, { host, program: child });
  } catch (error) {
    await child.stop();
    throw new Error(`smtp-sink did not start: ${(error as Error).message}`);
  }
  return { ...child, host, port };
}

export interface AiosmtpdEvent {
  readonly event: 'PROXY' | 'DATA';
  readonly src?: string;
  readonly srcPort?: number;
  readonly from?: string;
  readonly to?: string[];
  /** base64 of the message as received (dot-stuffing removed). */
  readonly content?: string;
}

export interface Aiosmtpd extends StartedProgram {
  readonly port: number;
  events(): AiosmtpdEvent[];
}

const AIOSMTPD_SCRIPT = `
import base64, json, sys, time
from aiosmtpd.controller import Controller
port = int(sys.argv[1]); proxy = sys.argv[2] == 'proxy'
def emit(record):
    print(json.dumps(record), flush=True)
class Handler:
    async def handle_PROXY(self, server, session, envelope, proxy_data):
        emit({'event': 'PROXY', 'src': str(proxy_data.src_addr), 'srcPort': proxy_data.src_port})
        return True
    async def handle_DATA(self, server, session, envelope):
        emit({'event': 'DATA', 'from': envelope.mail_from, 'to': envelope.rcpt_tos,
              'content': base64.b64encode(envelope.original_content).decode()})
        return '250 2.0.0 Ok: queued'
kwargs = {'proxy_protocol_timeout': 5} if proxy else {}
controller = Controller(Handler(), hostname='127.0.0.1', port=port, server_hostname='home.aiosmtpd.test', **kwargs)
controller.start()
print(json.dumps({'event': 'READY'}), flush=True)
while True:
    time.sleep(3600)
`;

/** aiosmtpd as a home server; with `proxy`, it requires a PROXY header first (v1 or v2). */
export async function startAiosmtpd(options: { proxy: boolean }): Promise<Aiosmtpd> {
  const python = requireAiosmtpdPython();
  const port = await freePort();
  const child = startProgram(python, [
    '-c',
    AIOSMTPD_SCRIPT,
    String(port),
    options.proxy ? 'proxy' : 'plain',
  ]);
  try {
    await waitFor(() => child.output().includes('"READY"'), {
      timeoutMs: 15_000,
      intervalMs: 50,
      message: 'aiosmtpd to start',
      giveUp: () => (child.hasExited() ? 'it exited' : undefined),
    });
  } catch (error) {
    await child.stop();
    const output = child.output();
    const missing = output.includes('No module named')
      ? ' (apt-get install --no-install-recommends python3-aiosmtpd)'
      : '';
    throw new Error(`${(error as Error).message}${missing}:\n${output}`);
  }
  return {
    ...child,
    port,
    events: () =>
      child
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as AiosmtpdEvent & { event: string })
        .filter((e): e is AiosmtpdEvent => e.event === 'PROXY' || e.event === 'DATA'),
  };
}

export interface SwaksResult {
  readonly code: number;
  readonly output: string;
}

/** Runs swaks (exit 0 = delivered; 24 = no recipient accepted; 25/26 = DATA refused). */
export async function runSwaks(args: readonly string[], timeoutMs = 30_000): Promise<SwaksResult> {
  const binary = requireProgram('swaks', 'swaks');
  const result = await runProgram(binary, args, { timeoutMs });
  // swaks prints the conversation on stdout and its own complaints on stderr; callers read both.
  const output = `${result.stdout}${result.stderr}`;
  const code = result.code ?? -1;
  if (output.includes('requires Net::SSLeay')) {
    throw new Error(
      'swaks needs Net::SSLeay for TLS: apt-get install --no-install-recommends libnet-ssleay-perl',
    );
  }
  return { code, output };
}

/** A raw SMTP client for exact bytes: send anything, read whole replies. */
export interface RawSmtp {
  readonly socket: Socket;
  send(text: string | Buffer): void;
  /** The next complete reply (all its lines), e.g. `250-a\r\n250 b\r\n`. */
  reply(timeoutMs?: number): Promise<string>;
  /** Everything until the server closes. */
  rest(timeoutMs?: number): Promise<string>;
  close(): void;
}

export async function rawSmtp(
  port: number,
  options: { host?: string; localAddress?: string } = {},
): Promise<RawSmtp> {
  const socket = connect({
    port,
    host: options.host ?? '127.0.0.1',
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return wrapRawSmtp(socket);
}

export function wrapRawSmtp(socket: Socket): RawSmtp {
  let buffer = '';
  let ended = false;
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    wake();
  });
  socket.on('close', () => {
    ended = true;
    wake();
  });
  socket.on('error', () => undefined);
  const takeReply = (): string | undefined => {
    let offset = 0;
    for (;;) {
      const end = buffer.indexOf('\n', offset);
      if (end === -1) return undefined;
      const line = buffer.slice(offset, end + 1);
      offset = end + 1;
      if (/^\d{3}( |\r?\n)/.test(line)) {
        const reply = buffer.slice(0, offset);
        buffer = buffer.slice(offset);
        return reply;
      }
    }
  };
  const waitFor = async <T>(take: () => T | undefined, timeoutMs: number, what: string): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = take();
      if (value !== undefined) return value;
      if (ended)
        throw new Error(`connection closed while waiting for ${what}; had: ${JSON.stringify(buffer)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms; had: ${JSON.stringify(buffer)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  return {
    socket,
    send: (text) => socket.write(typeof text === 'string' ? Buffer.from(text, 'latin1') : text),
    reply: (timeoutMs = 10_000) => waitFor(takeReply, timeoutMs, 'reply'),
    rest: (timeoutMs = 10_000) =>
      waitFor(
        () => {
          if (!ended) return undefined;
          const all = buffer;
          buffer = '';
          return all;
        },
        timeoutMs,
        'close',
      ),
    close: () => socket.destroy(),
  };
}

/** What a scripted backend connection sees and does. */
export interface ScriptedConnection {
  readonly socket: Socket;
  /** Every byte received on this connection so far. */
  received(): Buffer;
  /** Waits until the received bytes end with (or contain) `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  send(text: string): void;
}

export interface ScriptedBackend {
  readonly port: number;
  readonly host: string;
  /** Connections accepted so far. */
  connections(): ScriptedConnection[];
  close(): Promise<void>;
}

/**
 * A node:net home server driven by a script, recording every byte. `script`
 * runs once per connection; a script that sends nothing is a silent server.
 */
export async function startScriptedBackend(
  script: (connection: ScriptedConnection) => Promise<void> | void,
  options: { host?: string } = {},
): Promise<ScriptedBackend> {
  const host = options.host ?? '127.0.0.1';
  const all: ScriptedConnection[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let bytes = Buffer.alloc(0);
    const waiters: (() => void)[] = [];
    socket.on('data', (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      for (const waiter of waiters.splice(0)) waiter();
    });
    const connection: ScriptedConnection = {
      socket,
      received: () => bytes,
      async waitFor(text, timeoutMs = 10_000) {
        const deadline = Date.now() + timeoutMs;
        while (!bytes.toString('latin1').includes(text)) {
          if (socket.destroyed) throw new Error(`connection closed before ${JSON.stringify(text)} arrived`);
          if (Date.now() > deadline) throw new Error(`no ${JSON.stringify(text)} within ${timeoutMs} ms`);
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 50);
            waiters.push(() => {
              clearTimeout(timer);
              resolve();
            });
          });
        }
      },
      send: (text) => {
        if (!socket.destroyed) socket.write(text);
      },
    };
    all.push(connection);
    void Promise.resolve(script(connection)).catch(() => socket.destroy());
  });
  // In this process the server can take port 0 and say which one it got: no race at all.
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    host,
    connections: () => all,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A well-behaved scripted home server: greeting, EHLO with `extensions`,
 * 250 to MAIL/RCPT/RSET, 354 to DATA, 250 after ".", 221 to QUIT. `override`
 * may answer a command line itself (return true when it did).
 */
export function politeServer(
  options: {
    extensions?: readonly string[];
    override?: (line: string, c: ScriptedConnection) => boolean;
  } = {},
) {
  return (c: ScriptedConnection) => {
    c.send('220 home.scripted.test ESMTP\r\n');
    let pending = '';
    let inData = false;
    c.socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = pending.indexOf('\r\n.\r\n');
          const atStart = pending.startsWith('.\r\n');
          if (end === -1 && !atStart) return;
          pending = atStart ? pending.slice(3) : pending.slice(end + 5);
          inData = false;
          c.send('250 2.0.0 Ok: queued\r\n');
          continue;
        }
        const lf = pending.indexOf('\r\n');
        if (lf === -1) return;
        const line = pending.slice(0, lf);
        pending = pending.slice(lf + 2);
        if (options.override?.(line, c)) continue;
        const verb = line.split(' ')[0]?.toUpperCase();
        if (verb === 'EHLO') {
          const ext = options.extensions ?? ['PIPELINING', '8BITMIME', 'SIZE 100000000'];
          const lines = ['home.scripted.test', ...ext];
          c.send(lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}\r\n`).join(''));
        } else if (verb === 'DATA') {
          inData = true;
          c.send('354 go ahead\r\n');
          // The body may already be in `pending`.
          pending = `\r\n${pending}`;
        } else if (verb === 'QUIT') {
          c.send('221 bye\r\n');
          c.socket.end();
        } else {
          c.send('250 2.0.0 Ok\r\n');
        }
      }
    });
  };
}

export interface TestRelay extends RunningRelay {
  readonly config: RelayConfig;
  stopAll(): Promise<void>;
}

/** Settings for a test relay: loopback targets allowed, short timeouts, generous per-client limits. */
export function testRelayEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    MYDNS_SMTP_ADDRESS: '127.0.0.1',
    MYDNS_RELAY_ALLOW_PRIVATE_TARGETS: 'true',
    MYDNS_RELAY_HOSTNAME: 'relay.mx.example-dyn.test',
    MYDNS_RELAY_CLIENT_SESSIONS: '200',
    MYDNS_RELAY_CLIENT_RATE: '100000/1m',
    MYDNS_RELAY_CONNECT_TIMEOUT: '2s',
    MYDNS_RELAY_BACKEND_GREETING_TIMEOUT: '2s',
    MYDNS_RELAY_BACKEND_REPLY_TIMEOUT: '3s',
    MYDNS_RELAY_BACKEND_DATA_TIMEOUT: '3s',
    MYDNS_RELAY_BACKEND_FINAL_TIMEOUT: '5s',
    MYDNS_RELAY_STOP_GRACE: '2s',
    MYDNS_RELAY_HOST_CACHE_TTL: '1s',
    LOG_LEVEL: process.env.TEST_LOG ? 'debug' : 'error',
    ...overrides,
  };
}

/** A relay in this process on a free loopback port. */
export async function startTestRelay(env: Record<string, string>, deps: RelayDeps = {}): Promise<TestRelay> {
  const port = await freePort();
  const config = loadRelayConfig({ ...testRelayEnv(), MYDNS_SMTP_PORT: String(port), ...env });
  // As the API's test helper does: everything at debug level into the run's log file, which
  // test/run.ts searches for secrets afterwards.
  const logFile = process.env.MYDNS_TEST_LOG_FILE;
  const logger = createLogger({
    level: process.env.TEST_LOG || logFile ? 'debug' : config.log.level,
    format: 'pretty',
    silent: !process.env.TEST_LOG,
    ...(logFile ? { file: logFile } : {}),
  });
  const shutdown = createShutdown(logger);
  const running = await startRelay(config, logger, shutdown, deps);
  return { ...running, config, stopAll: () => shutdown.run('test finished') };
}

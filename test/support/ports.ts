import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/**
 * Ports for the servers the tests must tell a port up front (pdns_server,
 * Postgres, smtp-sink, Pebble, an API process). A server that can bind port 0
 * itself and report the port (an in-process node:net or http server) should
 * do that instead: it is race-free by construction.
 *
 * Why not "bind port 0, close, return the port" (what this replaces): that
 * port comes from the kernel's ephemeral range, the very range the kernel
 * hands out next to any bind(0) and to every outgoing connection on the
 * machine (each pg client, fetch and DNS query of the run, other engineers'
 * test runs), so between our close and the server's bind anyone can take it.
 * Retrying on EADDRINUSE would need every kind of server to report that
 * failure its own way. Here instead:
 *
 * - ports come from below the ephemeral range (ip_local_port_range), which
 *   the kernel never hands out by itself: no bind(0) and no outgoing
 *   connection can take one;
 * - among the processes that pick ports this way (every test file's process,
 *   concurrent runs in other checkouts), a block of ports belongs to the
 *   process that holds a listening socket on its first port. Binding is
 *   atomic and exclusive in the kernel, and the socket goes away with the
 *   process, so a killed run leaves no stale lock behind;
 * - within the process each port is handed out once, after a check that
 *   nothing (a server left over from elsewhere) already holds it.
 */

const BLOCK_SIZE = 64;

/** The ports we may use: those below the kernel's ephemeral range (or, failing room there, above it). */
function portRange(): { first: number; last: number } {
  let low = 32768;
  let high = 60999;
  try {
    const [a, b] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    if (Number(a) > 0 && Number(b) >= Number(a)) [low, high] = [Number(a), Number(b)];
  } catch {
    // Not Linux: keep Linux's default range.
  }
  const first = Math.max(10_000, low - 16_384);
  if (low - first >= 16 * BLOCK_SIZE) return { first, last: low - 1 };
  return { first: high + 1, last: 65_535 };
}

function listenOn(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Nothing listens on TCP or UDP 127.0.0.1:`port` (pdns_server takes both for DNS). */
async function isFree(port: number): Promise<boolean> {
  const tcp = await listenOn(port);
  if (!tcp) return false;
  await closeServer(tcp);
  return new Promise((resolve) => {
    const udp = createSocket('udp4');
    udp.once('error', () => {
      udp.close();
      resolve(false);
    });
    udp.bind(port, '127.0.0.1', () => udp.close(() => resolve(true)));
  });
}

interface Block {
  /** Held for the life of the process: the block is ours while it listens. */
  readonly guard: Server;
  next: number;
  readonly end: number;
}

let block: Block | undefined;
let queue: Promise<unknown> = Promise.resolve();

async function claimBlock(): Promise<Block> {
  const { first, last } = portRange();
  const count = Math.floor((last - first + 1) / BLOCK_SIZE);
  // Start at a random block so that concurrent processes rarely contend for the same one.
  const offset = Math.floor(Math.random() * count);
  for (let i = 0; i < count; i++) {
    const start = first + ((offset + i) % count) * BLOCK_SIZE;
    const guard = await listenOn(start);
    if (!guard) continue;
    guard.unref();
    return { guard, next: start + 1, end: start + BLOCK_SIZE };
  }
  throw new Error(`no free block of ${BLOCK_SIZE} ports in ${first}–${last}`);
}

/** A loopback port (TCP and UDP) no other process gets until this one ends. */
export function freePort(): Promise<number> {
  const next = queue.then(async () => {
    for (;;) {
      if (!block || block.next >= block.end) block = await claimBlock();
      const port = block.next++;
      if (await isFree(port)) return port;
    }
  });
  queue = next.catch(() => undefined);
  return next;
}

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, type Socket } from 'node:net';
import { freePort } from './ports.ts';

/**
 * A DNS proxy on loopback that counts what passes: between an AXFR secondary
 * and its primary, what the zone transfers cost at the transport (TCP
 * payload bytes, both ways) without trusting either side's own report. TCP
 * (transfers) and UDP (the secondary's SOA checks) on the same port, as a
 * name server listens; each TCP connection is piped to the target's port,
 * each UDP client gets an upstream socket of its own. Stopped by `stop()`.
 */
export interface CountingProxy {
  readonly port: number;
  counts(): ProxyCounts;
  stop(): Promise<void>;
}

export interface ProxyCounts {
  /** TCP bytes from the target (the primary) to the clients: the transfers themselves. */
  readonly tcpToClient: number;
  readonly tcpFromClient: number;
  readonly tcpConnections: number;
  readonly udpToClient: number;
  readonly udpFromClient: number;
}

/** A UDP client with no datagram for this long loses its upstream socket. */
const UDP_IDLE_MS = 30_000;

export async function startCountingProxy(options: {
  targetPort: number;
  port?: number;
}): Promise<CountingProxy> {
  const port = options.port ?? (await freePort());
  const counts = { tcpToClient: 0, tcpFromClient: 0, tcpConnections: 0, udpToClient: 0, udpFromClient: 0 };
  const sockets = new Set<Socket>();
  const tcp = createServer((client) => {
    counts.tcpConnections++;
    const upstream = createConnection({ host: '127.0.0.1', port: options.targetPort });
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => {
      counts.tcpFromClient += chunk.length;
    });
    upstream.on('data', (chunk: Buffer) => {
      counts.tcpToClient += chunk.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  const udp = createSocket('udp4');
  const upstreams = new Map<string, { socket: UdpSocket; timer: NodeJS.Timeout }>();
  udp.on('message', (message, from) => {
    counts.udpFromClient += message.length;
    const key = `${from.address}:${from.port}`;
    let entry = upstreams.get(key);
    if (!entry) {
      const socket = createSocket('udp4');
      socket.on('message', (reply) => {
        counts.udpToClient += reply.length;
        udp.send(reply, from.port, from.address);
      });
      socket.on('error', () => socket.close());
      entry = { socket, timer: setTimeout(() => undefined, 0) };
      upstreams.set(key, entry);
    }
    const current = entry;
    clearTimeout(current.timer);
    current.timer = setTimeout(() => {
      upstreams.delete(key);
      current.socket.close();
    }, UDP_IDLE_MS);
    current.timer.unref();
    current.socket.send(message, options.targetPort, '127.0.0.1');
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve());
  });
  try {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ port, address: '127.0.0.1', exclusive: true }, () => resolve());
    });
  } catch (error) {
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    throw error;
  }
  return {
    port,
    counts: () => ({ ...counts }),
    async stop() {
      for (const socket of sockets) socket.destroy();
      for (const { socket, timer } of upstreams.values()) {
        clearTimeout(timer);
        socket.close();
      }
      upstreams.clear();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    },
  };
}

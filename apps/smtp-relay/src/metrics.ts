import { createServer, type Server } from 'node:http';
import type { Logger } from '@mydns/runtime';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * The relay's metrics (docs/operations.md, "Metrics"): sessions, what became of the messages,
 * and recipients refused for want of a backend connection.
 * With `npm start` they join the API's /metrics; the relay alone (docker
 * compose) serves them itself when MYDNS_RELAY_METRICS_PORT is set.
 */
export type RelayEvent =
  | { readonly type: 'session'; readonly outcome: 'accepted' | 'refused' }
  | {
      readonly type: 'message';
      readonly outcome: 'relayed' | 'too_big' | 'backend_failed';
      readonly code?: number;
    }
  | { readonly type: 'backend_refused'; readonly limit: 'host' | 'client_host' };

export interface RelayMetrics {
  record(event: RelayEvent): void;
}

export function createRelayMetrics(registry: Registry, openSessions: () => number): RelayMetrics {
  const sessions = new Counter({
    name: 'mydns_relay_sessions_total',
    help: 'SMTP sessions, by outcome at connect (refused: limits or shutting down)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const messages = new Counter({
    name: 'mydns_relay_messages_total',
    help: "Messages through the relay, by outcome and the home server's reply class (2xx, 4xx, 5xx)",
    labelNames: ['outcome', 'reply'],
    registers: [registry],
  });
  const backendRefusals = new Counter({
    name: 'mydns_relay_backend_refusals_total',
    help: "Recipients refused for want of a home server connection: the host's limit (451 4.4.5) or one client's share of it (client_host, 451 4.7.1)",
    labelNames: ['limit'],
    registers: [registry],
  });
  new Gauge({
    name: 'mydns_relay_open_sessions',
    help: 'SMTP sessions open now',
    registers: [registry],
    collect() {
      this.set(openSessions());
    },
  });
  return {
    record(event) {
      if (event.type === 'session') sessions.inc({ outcome: event.outcome });
      else if (event.type === 'backend_refused') backendRefusals.inc({ limit: event.limit });
      else
        messages.inc({
          outcome: event.outcome,
          reply: event.code ? `${Math.floor(event.code / 100)}xx` : 'none',
        });
    },
  };
}

/** A tiny /metrics server for the relay running alone. */
export async function serveMetrics(
  port: number,
  address: string,
  logger: Logger,
): Promise<{ registry: Registry; server: Server }> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mydns_relay_' });
  const server = createServer(async (req, res) => {
    if (req.url !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': registry.contentType }).end(await registry.metrics());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  logger.info(`SMTP relay metrics on ${address}:${port}/metrics`);
  return { registry, server };
}

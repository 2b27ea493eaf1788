/**
 * Ports a home mail server may not ask the relay to connect to
 * (docs/smtp-relay.md, "Safety"): everything below 1024 but the mail ports, and the
 * well-known ports of databases and caches that answer on a LAN.
 */
const ALLOWED_LOW_PORTS = new Set([25, 465, 587]);
const DENIED_PORTS = new Set([
  1433, // SQL Server
  1521, // Oracle
  2049, // NFS
  2375, // Docker API
  2376,
  3306, // MySQL
  5432, // Postgres
  5984, // CouchDB
  6379, // Redis
  8086, // InfluxDB
  9042, // Cassandra
  9200, // Elasticsearch
  9300,
  11211, // memcached
  27017, // MongoDB
]);

export function isDeniedMailPort(port: number): boolean {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return true;
  if (port < 1024) return !ALLOWED_LOW_PORTS.has(port);
  return DENIED_PORTS.has(port);
}

export const MAIL_CLIENT_ADDRESS_MODES = ['xclient', 'proxy-v2', 'none'] as const;
export const MAIL_TLS_MODES = ['opportunistic', 'fingerprint', 'verify', 'none'] as const;

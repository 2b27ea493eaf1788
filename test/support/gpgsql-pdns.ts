import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { findPdnsServer } from '@mydns/powerdns';
import pg from 'pg';
import { REPO_ROOT } from './compose.ts';
import { type StartedProgram, startProgram } from './programs.ts';

/**
 * PowerDNS on gpgsql, as docker-compose.yml runs it (the replica path's
 * pieces, for test/integration/replica-path.test.ts and the bench): its
 * database with the schema deploy/postgres/initdb loads, and pdns_server on
 * one of our configuration files, overriding only what differs outside a
 * container.
 */
export interface PdnsDatabase {
  readonly role: string;
  readonly database: string;
  readonly password: string;
  drop(): Promise<void>;
}

/** A role and a database of their own, the schema loaded as that role (it owns its tables). */
export async function createPdnsDatabase(adminUrl: string): Promise<PdnsDatabase> {
  const suffix = randomBytes(4).toString('hex');
  const role = `pdns_${suffix}`;
  const database = `pdns_${suffix}`;
  const password = randomBytes(16).toString('hex');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create role ${role} login password ${admin.escapeLiteral(password)}`);
  await admin.query(`create database ${database} owner ${role}`);
  await admin.end();
  const url = new URL(adminUrl);
  const asPdns = new pg.Client({
    host: url.hostname,
    port: Number(url.port),
    user: role,
    password,
    database,
  });
  await asPdns.connect();
  try {
    for (const file of ['pdns-schema.pgsql.sql', 'pdns-keep-ordernames.pgsql.sql'])
      await asPdns.query(readFileSync(join(REPO_ROOT, 'deploy/postgres/initdb/sql', file), 'utf8'));
  } finally {
    await asPdns.end();
  }
  return {
    role,
    database,
    password,
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${database} with (force)`);
        await client.query(`drop role if exists ${role}`);
      } finally {
        await client.end();
      }
    },
  };
}

export interface GpgsqlPdns {
  readonly program: StartedProgram;
  stop(): Promise<void>;
}

export function startGpgsqlPdns(options: {
  /** A file of pdns/: pdns.conf (the primary) or pdns-replica.conf. */
  conf: string;
  db: PdnsDatabase;
  pgPort: number | string;
  dnsPort: number;
  workDir: string;
  extra?: readonly string[];
}): GpgsqlPdns {
  const binary = findPdnsServer();
  if (!binary)
    throw new Error('pdns_server is not installed: apt-get install pdns-server pdns-backend-pgsql');
  const dir = join(options.workDir, `pdns-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { mode: 0o700 });
  copyFileSync(join(REPO_ROOT, 'pdns', options.conf), join(dir, 'pdns.conf'));
  const program = startProgram(
    binary,
    [
      `--config-dir=${dir}`,
      '--gpgsql-host=127.0.0.1',
      `--gpgsql-port=${options.pgPort}`,
      `--gpgsql-dbname=${options.db.database}`,
      `--gpgsql-user=${options.db.role}`,
      '--local-address=127.0.0.1',
      `--local-port=${options.dnsPort}`,
      `--socket-dir=${dir}`,
      ...(options.extra ?? []),
    ],
    // As in docker-compose.yml: libpq reads the password from the environment.
    { env: { PATH: process.env.PATH, PGPASSWORD: options.db.password } },
  );
  return {
    program,
    async stop() {
      await program.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

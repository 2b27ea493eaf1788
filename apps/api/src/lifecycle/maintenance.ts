import type {
  AcmeRepository,
  Database,
  HistoryRepository,
  HostKey,
  HostsRepository,
  SessionsRepository,
  SharedFailures,
} from '@mydns/db';
import { errorMessage, type Logger } from '@mydns/runtime';
import type { DormancyMailsReport, DormancyNotices } from '../notifications/dormancy-notices.ts';

/**
 * The periodic housekeeping (docs/architecture.md, "Lifecycle of a hostname"):
 * - hosts without a successful update for `inactivityDays` go dormant (their
 *   addresses leave DNS; the next good update brings them back at once), in
 *   every zone: each queued change carries its zone to that zone's writer;
 * - hosts with notices on get their dormancy mails (notifications/dormancy-notices.ts);
 * - expired ACME values leave DNS;
 * - update history is cut to its size and age limits;
 * - expired web sessions are removed.
 * Safe with several replicas: a Postgres advisory lock lets one run at a time,
 * and every step is idempotent anyway. The clock is injected, so tests move
 * time instead of sleeping.
 */
/** Hosts are named in full (`label.zone`) in the report. */
export interface MaintenanceReport {
  readonly dormant: readonly string[];
  readonly acmeExpired: readonly string[];
  readonly historyPruned: number;
  readonly sessionsEnded: number;
  readonly dormancyMails: DormancyMailsReport;
}

export interface Maintenance {
  /** One pass now (or at `now`); undefined when another replica holds the lock. */
  runOnce(now?: Date): Promise<MaintenanceReport | undefined>;
  /** The dormancy step alone, for `npm run cli -- host expire [--dry-run]`. */
  expireInactive(options: { now?: Date; dryRun: boolean }): Promise<string[]>;
  start(): void;
  stop(): Promise<void>;
}

export interface MaintenanceDeps {
  db: Database;
  hosts: HostsRepository;
  acme: AcmeRepository;
  history: HistoryRepository;
  sessions?: SessionsRepository;
  /** The failed-login counters the replicas share (auth/login-guard.ts). */
  loginFailures?: Pick<SharedFailures, 'prune'>;
  logger: Logger;
  inactivityDays: number;
  historyMaxPerHost: number;
  historyMaxAgeMs: number;
  intervalMs: number;
  /** Called when a pass queued DNS changes, so they go out now rather than at the next sweep. */
  onQueued?: () => void;
  /** The warnings before dormancy and the notices after it (none: no mail, the CLI). */
  dormancyMails?: Pick<DormancyNotices, 'runOnce'>;
  now?: () => Date;
}

const DAY_MS = 86_400_000;

const fullNames = (hosts: readonly HostKey[]) => hosts.map((host) => `${host.name}.${host.zone}`);

export function createMaintenance(deps: MaintenanceDeps): Maintenance {
  const log = deps.logger.child({ component: 'maintenance' });
  const clock = deps.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;

  const expireInactive = async (now: Date, dryRun: boolean) =>
    fullNames(
      await deps.hosts.expireInactive(new Date(now.getTime() - deps.inactivityDays * DAY_MS), { dryRun }),
    );

  const runOnce = async (now = clock()): Promise<MaintenanceReport | undefined> =>
    deps.db.transaction(async (trx) => {
      const { rows } = await trx.raw<{ rows: { locked: boolean }[] }>(
        "select pg_try_advisory_xact_lock(hashtext('mydns-maintenance')) as locked",
      );
      if (!rows[0]?.locked) return undefined;
      const dormant = await expireInactive(now, false);
      const dormancyMails = (await deps.dormancyMails?.runOnce(now)) ?? { warned: 0, toldDormant: 0 };
      const acmeExpired = fullNames(await deps.acme.expire(now));
      const historyPruned = await deps.history.prune({
        maxPerHost: deps.historyMaxPerHost,
        before: new Date(now.getTime() - deps.historyMaxAgeMs),
      });
      const sessionsEnded = (await deps.sessions?.removeExpired(now)) ?? 0;
      // Failed-login rows whose window and block are long over.
      await deps.loginFailures?.prune(DAY_MS);
      if (dormant.length > 0)
        log.info(`${dormant.length} hosts went dormant`, { hosts: dormant.slice(0, 20) });
      if (acmeExpired.length > 0) log.info(`expired ACME values of ${acmeExpired.length} hosts`);
      if (dormant.length > 0 || acmeExpired.length > 0) deps.onQueued?.();
      return { dormant, acmeExpired, historyPruned, sessionsEnded, dormancyMails };
    });

  return {
    runOnce,
    expireInactive: ({ now, dryRun }) => expireInactive(now ?? clock(), dryRun),
    start() {
      timer = setInterval(() => {
        if (running) return;
        running = runOnce()
          .catch((error: unknown) => log.warn(`maintenance failed: ${errorMessage(error)}`))
          .finally(() => {
            running = undefined;
          });
      }, deps.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await running;
    },
  };
}

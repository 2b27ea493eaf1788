import {
  type FamilyChange,
  type HostRecord,
  type HostsRepository,
  type Ipv6Change,
  ipv6Step,
} from '@mydns/db';
import { type DyndnsOutcome, type HostResult, type IpAddress, nextIpv6 } from '@mydns/domain';
import type { Logger } from '@mydns/runtime';
import { type Authenticator, type Credential, covers } from '../auth/authenticator.ts';
import type { RateLimiter } from '../auth/rate-limiter.ts';
import type { HistoryRecorder } from '../history/history-recorder.ts';
import type { FamilyPlan, ParsedUpdate, RequestedHost } from './parse-update-request.ts';

/**
 * The update path (docs/architecture.md, "The update path"): authenticate
 * (auth/authenticator.ts, with its limits), apply the per-host limit, compare
 * with Postgres, commit a change with its pending push, and wait for the zone
 * writer up to a deadline. Protocol words are return values; only a real fault
 * (Postgres down) throws, and the HTTP edge answers 911.
 */

export interface UpdateContext {
  readonly client: IpAddress;
  readonly userAgent: string | undefined;
  readonly logger: Logger;
  /** HEAD: answer as GET would, but change nothing (no write, no count, no history). */
  readonly dryRun?: boolean;
}

export interface UpdateServiceDeps {
  readonly hosts: Pick<HostsRepository, 'applyAddressChange' | 'touchLastSeen'>;
  readonly authenticator: Pick<Authenticator, 'authenticate'>;
  /** The writer of each zone (packages/powerdns zone-writers.ts). */
  readonly zoneWriters: { push(zone: string, outboxId: number, timeoutMs: number): Promise<boolean> };
  readonly history: Pick<HistoryRecorder, 'record'>;
  /** Update requests per host. */
  readonly hostLimiter: RateLimiter;
  readonly pushTimeoutMs: number;
  readonly blockedUserAgents: readonly string[];
  /**
   * The hosts an account's credentials may name (README "Accounts"); without
   * them, account logins are not taken on the update path.
   */
  readonly accountHosts?: {
    /** A host by zone and label (the host cache's lookup). */
    find(zone: string, label: string): Promise<HostRecord | undefined>;
    list(accountId: number): Promise<HostRecord[]>;
  };
}

export interface UpdateService {
  update(request: ParsedUpdate, context: UpdateContext): Promise<DyndnsOutcome>;
}

type UpdateRequest = Extract<ParsedUpdate, { kind: 'update' }>;

interface HostOutcome {
  readonly result: HostResult;
  /** Why a refused update was refused, for the owner's history. */
  readonly reason?: string;
  readonly before: { readonly ipv4: string | null; readonly ipv6: string | null };
  readonly after: { readonly ipv4: string | null; readonly ipv6: string | null };
}

const account = (code: 'badauth' | 'numhost' | 'abuse' | 'badagent' | '911'): DyndnsOutcome => ({
  kind: 'account',
  code,
});

/** The new IPv4, or the current one when it is kept. */
function next(plan: FamilyPlan, current: string | null): string | null {
  if (plan.action === 'set') return plan.address;
  if (plan.action === 'delete') return null;
  return current;
}

function change(plan: FamilyPlan): FamilyChange {
  if (plan.action === 'keep' || plan.action === 'prefix') return { keep: true };
  return { keep: false, address: plan.action === 'set' ? plan.address : null };
}

function v6Change(plan: FamilyPlan): Ipv6Change {
  return plan.action === 'prefix' ? { keep: false, prefix: plan.prefix } : change(plan);
}

/**
 * What a plan leads to for this host, from its row as read: the new
 * addresses, those the reply confirms (v4 first; pfSense matches `good %IP%`
 * exactly; for a prefix, the host's AAAA it leads to), and whether anything
 * would change. Postgres decides again under the row lock.
 */
function planned(host: HostRecord, plan: Extract<UpdateRequest['addresses'], { ok: true }>) {
  const v4 = next(plan.v4, host.ipv4);
  const { ipv6: v6, ipv6Prefix } = nextIpv6(host, ipv6Step(v6Change(plan.v6)), plan.lanPrefix);
  const confirmed = [
    ...(plan.v4.action === 'set' ? [plan.v4.address] : []),
    ...(plan.v6.action === 'set' ? [plan.v6.address] : []),
    ...(plan.v6.action === 'prefix' && v6 !== null ? [v6] : []),
  ];
  return {
    v4,
    v6,
    confirmed,
    unchanged:
      host.status === 'active' && v4 === host.ipv4 && v6 === host.ipv6 && ipv6Prefix === host.ipv6Prefix,
    isPrefix: plan.v6.action === 'prefix' || plan.lanPrefix !== undefined,
  };
}

export function createUpdateService(deps: UpdateServiceDeps): UpdateService {
  const isBlockedAgent = (agent: string | undefined) => {
    if (!agent || deps.blockedUserAgents.length === 0) return false;
    const lower = agent.toLowerCase();
    return deps.blockedUserAgents.some((blocked) => lower.includes(blocked));
  };

  const updateHost = async (
    host: HostRecord,
    request: UpdateRequest,
    context: UpdateContext,
  ): Promise<HostOutcome> => {
    const before = { ipv4: host.ipv4, ipv6: host.ipv6 };
    const unchanged = (result: HostResult, reason?: string): HostOutcome => ({
      result,
      before,
      after: before,
      ...(reason === undefined ? {} : { reason }),
    });
    if (host.status === 'disabled')
      return unchanged({ code: 'abuse' }, 'the host is disabled by the operator');
    const overLimit = () => {
      context.logger.info('update refused: host over its request limit', { host: host.name });
      return unchanged({ code: 'abuse' }, 'too many update requests for this host; wait a few minutes');
    };
    const plan = request.addresses;
    if (!plan.ok) {
      if (!context.dryRun) deps.hostLimiter.hit(String(host.id));
      if (deps.hostLimiter.isLimited(String(host.id))) return overLimit();
      context.logger.info('update refused: no usable address', { host: host.name, reason: plan.reason });
      return unchanged({ code: 'dnserr' }, plan.reason);
    }
    const { v4, v6, confirmed, unchanged: isUnchanged, isPrefix } = planned(host, plan);
    // A prefix update that changes nothing is not counted: a Fritz!Box that sends
    // only its LAN prefix looks up the host's AAAA afterwards, finds it is not its
    // own address, and sends the same update again while it differs, which
    // nsupdate.info ended up calling abuse (nsupdate.info PR#497; docs/protocol.md).
    const counted = !context.dryRun && !(isPrefix && isUnchanged);
    const limited = counted
      ? !deps.hostLimiter.hit(String(host.id))
      : deps.hostLimiter.isLimited(String(host.id));
    if (limited) return overLimit();
    if (isUnchanged) {
      const hourAgo = Date.now() - 3_600_000;
      const stale = !host.lastSeenAt || host.lastSeenAt.getTime() < hourAgo;
      if (stale && !context.dryRun) await deps.hosts.touchLastSeen(host.id);
      return unchanged({ code: 'nochg', addresses: confirmed });
    }
    if (context.dryRun) {
      return { result: { code: 'good', addresses: confirmed }, before, after: { ipv4: v4, ipv6: v6 } };
    }
    const applied = await deps.hosts.applyAddressChange(
      host.id,
      change(plan.v4),
      v6Change(plan.v6),
      plan.lanPrefix,
    );
    if (!applied) return unchanged({ code: 'nochg', addresses: confirmed });
    const pushed = await deps.zoneWriters.push(host.zone, applied.outboxId, deps.pushTimeoutMs);
    if (!pushed)
      context.logger.warn('PowerDNS has not taken the change yet; it stays pending', { host: host.name });
    return {
      result: pushed ? { code: 'good', addresses: confirmed } : { code: 'dnserr' },
      ...(pushed ? {} : { reason: 'saved, but PowerDNS has not taken the change yet; it is retried' }),
      before: { ipv4: applied.oldIpv4, ipv6: applied.oldIpv6 },
      after: { ipv4: applied.ipv4, ipv6: applied.ipv6 },
    };
  };

  /** The log line and the history entry of one host's update. */
  const report = (
    host: HostRecord,
    outcome: HostOutcome | undefined,
    result: string,
    context: UpdateContext,
  ) => {
    const addresses = (ipv4: string | null, ipv6: string | null) =>
      [ipv4, ipv6].filter(Boolean).join(',') || '-';
    // One line per host updated: host, result, old → new. A repeated nochg (the
    // bulk of all traffic) is logged at debug level only.
    const level = result === 'nochg' ? 'debug' : 'info';
    if (context.logger.isLevelEnabled(level)) {
      context.logger.log(level, 'update', {
        host: host.name,
        result,
        from: addresses(outcome?.before.ipv4 ?? host.ipv4, outcome?.before.ipv6 ?? host.ipv6),
        to: addresses(outcome?.after.ipv4 ?? host.ipv4, outcome?.after.ipv6 ?? host.ipv6),
      });
    }
    if (context.dryRun) return;
    deps.history.record({
      hostId: host.id,
      at: new Date(),
      sourceAddress: context.client.text,
      userAgent: context.userAgent?.slice(0, 256) ?? null,
      result,
      oldIpv4: outcome?.before.ipv4 ?? host.ipv4,
      oldIpv6: outcome?.before.ipv6 ?? host.ipv6,
      newIpv4: outcome?.after.ipv4 ?? host.ipv4,
      newIpv6: outcome?.after.ipv6 ?? host.ipv6,
      reason: outcome?.reason ?? null,
    });
  };

  /** What each requested name is: a result already, or a host to update. */
  type Target = HostResult | HostRecord;
  const isHost = (target: Target): target is HostRecord => 'id' in target;

  /**
   * An account's hosts, named across zones (docs/interfaces.md, "Updates with
   * account credentials"): `nohost` for a name the credential does not cover;
   * no hostname: the account's one host, if it holds exactly one.
   */
  const accountTargets = async (
    accountId: number,
    credential: Credential,
    requested: readonly RequestedHost[],
  ): Promise<Target[]> => {
    const lookups = deps.accountHosts;
    if (!lookups) return requested.map(() => ({ code: 'nohost' }));
    // The parser puts the username in for a request without hostname; an address is no hostname.
    if (requested.length === 0 || (requested.length === 1 && requested[0]?.name.includes('@'))) {
      const held = (await lookups.list(accountId)).filter((host) =>
        covers({ id: accountId }, credential, host),
      );
      return [held.length === 1 && held[0] ? held[0] : { code: 'nohost' }];
    }
    return Promise.all(
      requested.map(async ({ resolution }): Promise<Target> => {
        if (resolution.kind === 'notfqdn') return { code: 'notfqdn' };
        if (resolution.kind === 'foreign') return { code: 'nohost' };
        const host = await lookups.find(resolution.zone, resolution.label);
        return host && covers({ id: accountId }, credential, host) ? host : { code: 'nohost' };
      }),
    );
  };

  return {
    async update(request, context) {
      if (isBlockedAgent(context.userAgent)) return account('badagent');
      if (request.kind === 'numhost') return account('numhost');
      if (!request.credentials) return account('badauth');
      const attempt = {
        source: context.client,
        username: request.credentials.username,
        secret: request.credentials.secret,
        purpose: 'update',
        edge: 'update',
      } as const;
      const login = deps.accountHosts
        ? await deps.authenticator.authenticate({ ...attempt, accounts: true })
        : await deps.authenticator.authenticate(attempt);
      if (!login.ok) {
        // Over the failure limit or its share of the checks: `abuse`, answered without bcrypt.
        // The whole queue full (the service is overloaded): `911`, which clients retry later.
        if (login.reason === 'blocked') return account('abuse');
        if (login.reason === 'busy') return account('911');
        return account('badauth');
      }

      let targets: Target[];
      if (login.account) {
        targets = await accountTargets(login.account.id, login.credential, request.hosts);
      } else {
        const { host } = login;
        // No hostname and a token alone: the token's host.
        const requested: readonly RequestedHost[] =
          request.hosts.length > 0
            ? request.hosts
            : [{ name: host.name, resolution: { kind: 'label', label: host.name, zone: host.zone } }];
        targets = requested.map(({ resolution }): Target => {
          if (resolution.kind === 'notfqdn') return { code: 'notfqdn' };
          if (
            resolution.kind === 'foreign' ||
            resolution.label !== host.name ||
            resolution.zone !== host.zone
          )
            return { code: 'nohost' };
          return host;
        });
      }

      // Each host once, in the order named; the same host listed twice is answered twice.
      const outcomes = new Map<number, { host: HostRecord; outcome: HostOutcome }>();
      const results: HostResult[] = [];
      for (const target of targets) {
        if (!isHost(target)) {
          results.push(target);
          continue;
        }
        let done = outcomes.get(target.id);
        if (!done) {
          done = { host: target, outcome: await updateHost(target, request, context) };
          outcomes.set(target.id, done);
        }
        results.push(done.outcome.result);
      }
      for (const { host, outcome } of outcomes.values()) report(host, outcome, outcome.result.code, context);
      // A host's own credentials that named no host of theirs: its history says so.
      if (outcomes.size === 0 && !login.account)
        report(login.host, undefined, results[0]?.code ?? 'nohost', context);
      return { kind: 'hosts', results };
    },
  };
}

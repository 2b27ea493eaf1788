import type { FamilyChange, HostRecord, HostsRepository } from '@mydns/db';
import { type DyndnsOutcome, type HostResult, type IpAddress, labelFromUsername } from '@mydns/domain';
import type { Logger } from '@mydns/runtime';
import type { Authenticator } from '../auth/authenticator.ts';
import type { RateLimiter } from '../auth/rate-limiter.ts';
import type { HistoryRecorder } from '../history/history-recorder.ts';
import type { FamilyPlan, ParsedUpdate, RequestedHost } from './parse-update-request.ts';

/**
 * The update path (ARCHITECTURE.md, steps 3-8): authenticate, apply the
 * limits, compare with Postgres, commit a change with its pending push, and
 * wait for the zone writer up to a deadline. Protocol words are return values;
 * only a real fault (Postgres down) throws, and the HTTP edge answers 911.
 */

export interface UpdateContext {
  readonly client: IpAddress;
  readonly userAgent: string | undefined;
  readonly logger: Logger;
}

export interface UpdateServiceDeps {
  readonly zone: string;
  readonly hosts: HostsRepository;
  readonly authenticator: Authenticator;
  readonly zoneWriter: { push(outboxId: number, timeoutMs: number): Promise<boolean> };
  readonly history: Pick<HistoryRecorder, 'record'>;
  /** Update requests per host. */
  readonly hostLimiter: RateLimiter;
  /** Failed logins per source address (checked before any bcrypt). */
  readonly failureLimiter: RateLimiter;
  readonly pushTimeoutMs: number;
  readonly blockedUserAgents: readonly string[];
}

export interface UpdateService {
  update(request: ParsedUpdate, context: UpdateContext): Promise<DyndnsOutcome>;
}

type UpdateRequest = Extract<ParsedUpdate, { kind: 'update' }>;

interface HostOutcome {
  readonly result: HostResult;
  readonly before: { readonly ipv4: string | null; readonly ipv6: string | null };
  readonly after: { readonly ipv4: string | null; readonly ipv6: string | null };
}

const account = (code: 'badauth' | 'numhost' | 'abuse' | 'badagent'): DyndnsOutcome => ({
  kind: 'account',
  code,
});

/** The new value of one family, or the current one when it is kept. */
function next(plan: FamilyPlan, current: string | null): string | null {
  if (plan.action === 'set') return plan.address;
  if (plan.action === 'delete') return null;
  return current;
}

function change(plan: FamilyPlan): FamilyChange {
  if (plan.action === 'keep') return { keep: true };
  return { keep: false, address: plan.action === 'set' ? plan.address : null };
}

export function createUpdateService(deps: UpdateServiceDeps): UpdateService {
  const isBlockedAgent = (agent: string | undefined) => {
    if (!agent || deps.blockedUserAgents.length === 0) return false;
    const lower = agent.toLowerCase();
    return deps.blockedUserAgents.some((blocked) => lower.includes(blocked));
  };

  const authenticate = async (
    request: UpdateRequest,
    context: UpdateContext,
  ): Promise<HostRecord | undefined> => {
    const credentials = request.credentials;
    if (!credentials) return undefined;
    const fail = () => {
      deps.failureLimiter.hit(context.client.text);
      return undefined;
    };
    const label =
      credentials.username === undefined
        ? await deps.authenticator.hostOfToken(credentials.secret)
        : labelFromUsername(credentials.username, deps.zone);
    if (label === undefined) return fail();
    const host = await deps.hosts.findByName(label);
    if (!host) return fail();
    return (await deps.authenticator.verify(host, credentials.secret)) ? host : fail();
  };

  const updateHost = async (
    host: HostRecord,
    request: UpdateRequest,
    context: UpdateContext,
  ): Promise<HostOutcome> => {
    const before = { ipv4: host.ipv4, ipv6: host.ipv6 };
    const unchanged = (result: HostResult): HostOutcome => ({ result, before, after: before });
    if (host.status === 'disabled') return unchanged({ code: 'abuse' });
    if (!deps.hostLimiter.hit(String(host.id))) {
      context.logger.info('update refused: host over its request limit', { host: host.name });
      return unchanged({ code: 'abuse' });
    }
    const plan = request.addresses;
    if (!plan.ok) {
      context.logger.info('update refused: no usable address', { host: host.name, reason: plan.reason });
      return unchanged({ code: 'dnserr' });
    }
    // The addresses this request set or confirmed, v4 first (pfSense matches `good %IP%` exactly).
    const confirmed = [plan.v4, plan.v6].flatMap((p) => (p.action === 'set' ? [p.address] : []));
    const v4 = next(plan.v4, host.ipv4);
    const v6 = next(plan.v6, host.ipv6);
    if (host.status === 'active' && v4 === host.ipv4 && v6 === host.ipv6) {
      const hourAgo = Date.now() - 3_600_000;
      if (!host.lastSeenAt || host.lastSeenAt.getTime() < hourAgo) await deps.hosts.touchLastSeen(host.id);
      return unchanged({ code: 'nochg', addresses: confirmed });
    }
    const applied = await deps.hosts.applyAddressChange(host.id, change(plan.v4), change(plan.v6));
    if (!applied) return unchanged({ code: 'nochg', addresses: confirmed });
    const pushed = await deps.zoneWriter.push(applied.outboxId, deps.pushTimeoutMs);
    if (!pushed)
      context.logger.warn('PowerDNS has not taken the change yet; it stays pending', { host: host.name });
    return {
      result: pushed ? { code: 'good', addresses: confirmed } : { code: 'dnserr' },
      before: { ipv4: applied.oldIpv4, ipv6: applied.oldIpv6 },
      after: { ipv4: applied.ipv4, ipv6: applied.ipv6 },
    };
  };

  return {
    async update(request, context) {
      if (isBlockedAgent(context.userAgent)) return account('badagent');
      if (request.kind === 'numhost') return account('numhost');
      if (!request.credentials) return account('badauth');
      // Brute-force guard: answered without running bcrypt.
      if (deps.failureLimiter.isLimited(context.client.text)) return account('abuse');
      const host = await authenticate(request, context);
      if (!host) return account('badauth');

      // No hostname and a token alone: the token's host.
      const targets: readonly RequestedHost[] =
        request.hosts.length > 0
          ? request.hosts
          : [{ name: host.name, resolution: { kind: 'label', label: host.name } }];
      let own: Promise<HostOutcome> | undefined;
      const results: HostResult[] = [];
      for (const requested of targets) {
        const resolution = requested.resolution;
        if (resolution.kind === 'notfqdn') results.push({ code: 'notfqdn' });
        else if (resolution.kind === 'foreign' || resolution.label !== host.name)
          results.push({ code: 'nohost' });
        else {
          // The same host listed twice is updated once and answered twice.
          own ??= updateHost(host, request, context);
          results.push((await own).result);
        }
      }
      const outcome = own ? await own : undefined;
      const result = outcome?.result.code ?? results[0]?.code ?? 'nohost';
      const addresses = (ipv4: string | null, ipv6: string | null) =>
        [ipv4, ipv6].filter(Boolean).join(',') || '-';
      // One line per update: host, result, old → new. A repeated nochg (the bulk
      // of all traffic) is logged at debug level only.
      const level = result === 'nochg' ? 'debug' : 'info';
      if (context.logger.isLevelEnabled(level)) {
        context.logger.log(level, 'update', {
          host: host.name,
          result,
          from: addresses(outcome?.before.ipv4 ?? host.ipv4, outcome?.before.ipv6 ?? host.ipv6),
          to: addresses(outcome?.after.ipv4 ?? host.ipv4, outcome?.after.ipv6 ?? host.ipv6),
        });
      }
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
      });
      return { kind: 'hosts', results };
    },
  };
}

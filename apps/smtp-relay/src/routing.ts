/**
 * Recipient domain → host (docs/smtp-relay.md, "Routing"). By the recipient domain
 * only — never MAIL FROM, HELO or headers — so the relay is never open:
 *
 * - `<host>.<zone>` → that host, when it forwards mail, in each zone served;
 * - a custom domain whose MX points at `<host>.mx.<zone>` → that host (the
 *   owner proves control of the domain by publishing that MX);
 * - anything else: not ours.
 *
 * The domain is routed in its canonical ASCII form (`routingDomain`), and the
 * route carries that form: it is the one the home server gets in RCPT.
 *
 * MX answers are cached (node's resolver gives no TTLs, so a setting bounds
 * the age, default 5 minutes; "no such domain" 1 minute).
 */
import { Resolver } from 'node:dns/promises';
import { domainToASCII } from 'node:url';
import { errorMessage } from '@mydns/runtime';
import type { HostDirectory, MailHost } from './hosts.ts';

export type Route =
  /** `domain`: the recipient domain as it was routed (canonical ASCII), for the RCPT to the host. */
  | { readonly kind: 'host'; readonly host: MailHost; readonly domain: string }
  /** Not routed here: 554 5.7.1. */
  | { readonly kind: 'none' }
  /** Ours, but not deliverable now (dormant, no address, no port): 451 4.4.4. `host`: its full name. */
  | { readonly kind: 'unavailable'; readonly host: string; readonly reason: string }
  /** A lookup failed (Postgres, DNS): 451 4.4.3. */
  | { readonly kind: 'error'; readonly reason: string };

export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

/** MX records of a domain; `[]` when it has none or does not exist; throws on lookup failure. */
export type MxLookup = (domain: string) => Promise<MxRecord[]>;

export function createMxLookup(servers: readonly string[], timeoutMs = 3000): MxLookup {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length > 0) resolver.setServers([...servers]);
  return async (domain) => {
    try {
      return await resolver.resolveMx(domain);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
      throw error;
    }
  };
}

export interface Router {
  route(domain: string): Promise<Route>;
}

export interface RouterOptions {
  /** The zones served (MYDNS_ZONES). */
  readonly zones: readonly string[];
  readonly hosts: HostDirectory;
  readonly lookupMx: MxLookup;
  readonly mxTtlMs: number;
  readonly mxNegativeTtlMs: number;
  readonly maxEntries?: number;
  readonly now?: () => number;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Which host: a label in one of the zones. */
interface Target {
  readonly label: string;
  readonly zone: string;
}
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const LDH_DOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * The domain as DNS knows it, and the only form it is routed and forwarded
 * in: lower case, no trailing dot, ASCII. A domain with UTF-8 bytes (carried
 * as latin1, SMTPUTF8) goes through UTS #46 (node's `domainToASCII`, as
 * WHATWG URL does): look-alikes map to their ASCII letters (fullwidth
 * `ａｌｉｃｅ` is `alice`, `。` and `．` are dots, case folded) and what is
 * left becomes A-labels (`bücher` is `xn--bcher-kva`). A name that does not
 * come out as letters, digits and hyphens (`＋` maps to `+`), or is not
 * valid UTF-8, is not a mail domain: undefined.
 */
export function routingDomain(domain: string): string | undefined {
  let text = domain.replace(/\.$/, '');
  if (/[\u0080-\u00ff]/.test(text)) {
    let decoded: string;
    try {
      decoded = UTF8.decode(Buffer.from(text, 'latin1'));
    } catch {
      return undefined;
    }
    text = domainToASCII(decoded).replace(/\.$/, '');
    if (!LDH_DOMAIN.test(text)) return undefined;
  }
  text = text.toLowerCase();
  return text === '' ? undefined : text;
}

export function createRouter(options: RouterOptions): Router {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 10_000;
  const zones = new Set(options.zones);
  const mxCache = new Map<string, { host: Target | undefined; expiresAt: number }>();

  /**
   * `<label>.<zone>` (or `<label>.mx.<zone>` with `mx`) split into label and
   * zone, for a zone served; a host is one label, so the split is at the first dot.
   */
  const split = (name: string, mx: boolean): Target | undefined => {
    const dot = name.indexOf('.');
    const label = name.slice(0, dot);
    const rest = name.slice(dot + 1);
    const zone = mx ? (rest.startsWith('mx.') ? rest.slice(3) : undefined) : rest;
    if (dot === -1 || zone === undefined || !zones.has(zone) || !LABEL.test(label)) return undefined;
    return { label, zone };
  };

  const toHost = async (target: Target, domain: string): Promise<Route> => {
    let host: MailHost | undefined;
    try {
      host = await options.hosts.find(target.label, target.zone);
    } catch (error) {
      return { kind: 'error', reason: `host lookup failed: ${errorMessage(error)}` };
    }
    if (!host?.mail.enabled || host.status === 'disabled') return { kind: 'none' };
    const name = `${host.name}.${host.zone}`;
    // The next update of a dormant or offline host brings it back: a temporary failure, the sender retries.
    if (host.status !== 'active')
      return { kind: 'unavailable', host: name, reason: `host is ${host.status}` };
    if (!host.ipv4 && !host.ipv6) return { kind: 'unavailable', host: name, reason: 'host has no address' };
    return { kind: 'host', host, domain };
  };

  /** The host of `<label>.mx.<zone>` among the domain's MX targets (most preferred first). */
  const mxTarget = async (domain: string): Promise<Target | undefined> => {
    const cached = mxCache.get(domain);
    if (cached && cached.expiresAt > now()) return cached.host;
    const records = await options.lookupMx(domain);
    let host: Target | undefined;
    const sorted = [...records].sort(
      (a, b) => a.priority - b.priority || a.exchange.localeCompare(b.exchange),
    );
    for (const record of sorted) {
      host = split(record.exchange.toLowerCase().replace(/\.$/, ''), true);
      if (host) break;
    }
    if (mxCache.size >= maxEntries) mxCache.delete(mxCache.keys().next().value as string);
    mxCache.set(domain, { host, expiresAt: now() + (host ? options.mxTtlMs : options.mxNegativeTtlMs) });
    return host;
  };

  return {
    async route(rawDomain) {
      const domain = routingDomain(rawDomain);
      if (!domain) return { kind: 'none' };
      // A zone itself, or any name inside a zone but `<host>.<zone>` (deeper names,
      // `<host>.mx.<zone>`): ours, and not a mail domain.
      const inside = [...zones].some((zone) => domain === zone || domain.endsWith(`.${zone}`));
      if (inside) {
        const target = split(domain, false);
        return target ? toHost(target, domain) : { kind: 'none' };
      }
      let target: Target | undefined;
      try {
        target = await mxTarget(domain);
      } catch (error) {
        return { kind: 'error', reason: `MX lookup for ${domain} failed: ${errorMessage(error)}` };
      }
      return target ? toHost(target, domain) : { kind: 'none' };
    },
  };
}

/**
 * Recipient domain → host (docs/smtp-relay.md, "Routing"). By the recipient domain
 * only — never MAIL FROM, HELO or headers — so the relay is never open:
 *
 * - `<host>.<zone>` → that host, when it forwards mail;
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
  /** Ours, but not deliverable now (dormant, no address, no port): 451 4.4.4. */
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
  readonly zone: string;
  readonly hosts: HostDirectory;
  readonly lookupMx: MxLookup;
  readonly mxTtlMs: number;
  readonly mxNegativeTtlMs: number;
  readonly maxEntries?: number;
  readonly now?: () => number;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
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
  const zoneSuffix = `.${options.zone}`;
  const mxSuffix = `.mx.${options.zone}`;
  const mxCache = new Map<string, { label: string | undefined; expiresAt: number }>();

  const toHost = async (label: string, domain: string): Promise<Route> => {
    let host: MailHost | undefined;
    try {
      host = await options.hosts.find(label);
    } catch (error) {
      return { kind: 'error', reason: `host lookup failed: ${errorMessage(error)}` };
    }
    if (!host?.mail.enabled || host.status === 'disabled') return { kind: 'none' };
    // The next update of a dormant or offline host brings it back: a temporary failure, the sender retries.
    if (host.status !== 'active')
      return { kind: 'unavailable', host: host.name, reason: `host is ${host.status}` };
    if (!host.ipv4 && !host.ipv6)
      return { kind: 'unavailable', host: host.name, reason: 'host has no address' };
    return { kind: 'host', host, domain };
  };

  /** The label of `<label>.mx.<zone>` among the domain's MX targets (most preferred first). */
  const mxLabel = async (domain: string): Promise<string | undefined> => {
    const cached = mxCache.get(domain);
    if (cached && cached.expiresAt > now()) return cached.label;
    const records = await options.lookupMx(domain);
    let label: string | undefined;
    const sorted = [...records].sort(
      (a, b) => a.priority - b.priority || a.exchange.localeCompare(b.exchange),
    );
    for (const record of sorted) {
      const exchange = record.exchange.toLowerCase().replace(/\.$/, '');
      if (!exchange.endsWith(mxSuffix)) continue;
      const candidate = exchange.slice(0, -mxSuffix.length);
      if (LABEL.test(candidate)) {
        label = candidate;
        break;
      }
    }
    if (mxCache.size >= maxEntries) mxCache.delete(mxCache.keys().next().value as string);
    mxCache.set(domain, { label, expiresAt: now() + (label ? options.mxTtlMs : options.mxNegativeTtlMs) });
    return label;
  };

  return {
    async route(rawDomain) {
      const domain = routingDomain(rawDomain);
      if (!domain) return { kind: 'none' };
      if (domain === options.zone) return { kind: 'none' };
      if (domain.endsWith(zoneSuffix)) {
        const label = domain.slice(0, -zoneSuffix.length);
        // Only `<host>.<zone>` itself: deeper names (and `<host>.mx.<zone>`) are not mail domains here.
        return LABEL.test(label) ? toHost(label, domain) : { kind: 'none' };
      }
      let label: string | undefined;
      try {
        label = await mxLabel(domain);
      } catch (error) {
        return { kind: 'error', reason: `MX lookup for ${domain} failed: ${errorMessage(error)}` };
      }
      return label ? toHost(label, domain) : { kind: 'none' };
    },
  };
}

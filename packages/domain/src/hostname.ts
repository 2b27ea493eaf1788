/**
 * Hostname rules. A MyDNS host is one label directly under one of the service
 * zones (`alice` → `alice.<zone>`); the same label may exist in each zone.
 * These functions are pure and shared by the API, the CLI and the relay.
 */

/** Dyn's RA-API accepted at most 20 names per request; docs/protocol.md keeps that limit. */
export const MAX_HOSTNAMES_PER_REQUEST = 20;

/**
 * Labels nobody may register: service names of the zone itself, names the relay
 * publishes (`mx`, `*.mx`), mailbox names RFC 2142 reserves, and words that look
 * official in a phishing link.
 */
export const RESERVED_LABELS: ReadonlySet<string> = new Set([
  'abuse',
  'admin',
  'administrator',
  'api',
  'app',
  'autoconfig',
  'autodiscover',
  'dashboard',
  'dns',
  'ftp',
  'help',
  'hostmaster',
  'imap',
  'localhost',
  'login',
  'mail',
  'mx',
  'mydns',
  'noc',
  'ns',
  'ns1',
  'ns2',
  'ns3',
  'ns4',
  'pop',
  'pop3',
  'postmaster',
  'register',
  'root',
  'security',
  'signin',
  'signup',
  'smtp',
  'static',
  'status',
  'support',
  'update',
  'update4',
  'update6',
  'webmaster',
  'wpad',
  'www',
]);

const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export type LabelProblem = 'empty' | 'too_long' | 'invalid_characters' | 'hyphen_edge' | 'idn' | 'reserved';

export type LabelCheck = { ok: true; label: string } | { ok: false; problem: LabelProblem; message: string };

/**
 * Checks a label someone wants to register. Accepts the bare label or the full
 * name under `zone`, in any case; returns the canonical lower-case label.
 */
export function checkRegistrableLabel(input: string, zone: string): LabelCheck {
  let label = input.trim().toLowerCase();
  const suffix = `.${zone}`;
  if (label.endsWith('.')) label = label.slice(0, -1);
  if (label.endsWith(suffix)) label = label.slice(0, -suffix.length);
  if (label === '') return { ok: false, problem: 'empty', message: 'the hostname is empty' };
  if (label.length > 63) {
    return { ok: false, problem: 'too_long', message: 'a hostname label has at most 63 characters' };
  }
  if (!/^[a-z0-9-]+$/.test(label)) {
    return {
      ok: false,
      problem: 'invalid_characters',
      message: 'use only letters a-z, digits 0-9 and hyphens (one label, no dots)',
    };
  }
  if (label.startsWith('-') || label.endsWith('-')) {
    return { ok: false, problem: 'hyphen_edge', message: 'a hostname cannot start or end with a hyphen' };
  }
  // RFC 5891 §4.2.3.1 reserves "??--" for IDNA; punycode names invite homograph
  // phishing on a shared zone, so they are not offered.
  if (label.slice(2, 4) === '--') {
    return { ok: false, problem: 'idn', message: 'hyphens in the third and fourth position are reserved' };
  }
  if (RESERVED_LABELS.has(label)) {
    return { ok: false, problem: 'reserved', message: `"${label}" is reserved` };
  }
  return { ok: true, label };
}

/** Lower-cases, trims and strips one trailing dot, as docs/protocol.md ("Hostnames") asks of every client-sent name. */
export function normaliseName(input: string): string {
  const name = input.trim().toLowerCase();
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** A syntactically valid DNS hostname: LDH labels of 1–63 characters, at most 253 in all. */
export function isValidHostname(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => LDH_LABEL.test(label));
}

/** A host's two parts: its label and the zone it is in (`alice` in `dyn.example.net`). */
export interface HostName {
  readonly label: string;
  readonly zone: string;
}

export type NameResolution = ({ kind: 'label' } & HostName) | { kind: 'notfqdn' } | { kind: 'foreign' };

/**
 * Maps a client-sent name to one of our hosts. `zones` are the zones served,
 * the default zone first (docs/protocol.md: a bare label means
 * `<label>.<default zone>`). A full name is its first label in the zone the
 * rest names; a host is always one label, so this is unambiguous even when one
 * zone lies inside another. A name elsewhere (another zone, or deeper inside
 * ours) is `foreign`, which the update path answers with `nohost`.
 */
export function resolveHostName(input: string, zones: readonly string[]): NameResolution {
  const name = normaliseName(input);
  if (!isValidHostname(name)) return { kind: 'notfqdn' };
  const dot = name.indexOf('.');
  if (dot === -1) {
    const zone = zones[0];
    return zone === undefined ? { kind: 'foreign' } : { kind: 'label', label: name, zone };
  }
  const zone = name.slice(dot + 1);
  return zones.includes(zone) ? { kind: 'label', label: name.slice(0, dot), zone } : { kind: 'foreign' };
}

export function fqdn(label: string, zone: string): string {
  return `${label}.${zone}`;
}

/**
 * The host a credential's username names: the bare label (the default zone,
 * the first of `zones`) or the full name in any of `zones`, any case, with or
 * without a trailing dot. Undefined for anything else (it cannot be one of our hosts).
 */
export function labelFromUsername(username: string, zones: readonly string[]): HostName | undefined {
  const resolution = resolveHostName(username, zones);
  return resolution.kind === 'label' ? { label: resolution.label, zone: resolution.zone } : undefined;
}

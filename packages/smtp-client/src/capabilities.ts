import { parseExtensions, type Reply } from './reply.ts';

/** What a server offers in its EHLO reply (RFC 5321 §4.1.1.1). Pure. */
export interface Capabilities {
  readonly pipelining: boolean;
  readonly size: boolean;
  /** The SIZE parameter (RFC 1870): the largest message it takes; undefined when none is given (or 0). */
  readonly maxSize: number | undefined;
  readonly eightBitMime: boolean;
  readonly smtputf8: boolean;
  readonly starttls: boolean;
  readonly enhancedStatusCodes: boolean;
  /** SASL mechanisms of `AUTH` (RFC 4954), upper case; empty when not offered. */
  readonly auth: ReadonlySet<string>;
  /** Attributes of the `XCLIENT` keyword, upper case; undefined when not offered. */
  readonly xclient: ReadonlySet<string> | undefined;
}

/** Capabilities of an EHLO reply; after HELO (undefined) nothing is offered. */
export function capabilitiesOf(ehlo: Reply | undefined): Capabilities {
  const ext = ehlo ? parseExtensions(ehlo) : new Map<string, string[]>();
  const xclient = ext.get('XCLIENT');
  const size = ext.get('SIZE');
  const maxSize = size?.[0] && /^[0-9]+$/.test(size[0]) ? Number(size[0]) : 0;
  const auth = new Set((ext.get('AUTH') ?? []).map((m) => m.toUpperCase()));
  // Servers from before RFC 4954 (old Outlook clients' era) still announce `AUTH=LOGIN PLAIN`.
  for (const [keyword, params] of ext) {
    if (!keyword.startsWith('AUTH=')) continue;
    auth.add(keyword.slice(5));
    for (const m of params) auth.add(m.toUpperCase());
  }
  return {
    pipelining: ext.has('PIPELINING'),
    size: size !== undefined,
    maxSize: maxSize > 0 ? maxSize : undefined,
    eightBitMime: ext.has('8BITMIME'),
    smtputf8: ext.has('SMTPUTF8'),
    starttls: ext.has('STARTTLS'),
    enhancedStatusCodes: ext.has('ENHANCEDSTATUSCODES'),
    auth,
    xclient: xclient ? new Set(xclient.map((a) => a.toUpperCase())) : undefined,
  };
}

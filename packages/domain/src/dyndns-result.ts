/**
 * DynDNS2 result codes (docs/protocol.md, "Replies"). These are outcomes,
 * not errors: the update path returns them as values.
 */

/** Codes that answer for one requested hostname (one line each, in request order). */
export type HostResultCode = 'good' | 'nochg' | 'notfqdn' | 'nohost' | 'abuse' | 'dnserr';

/** Codes that answer for the whole request (a single line). */
export type AccountResultCode = 'badauth' | 'numhost' | 'abuse' | 'badagent' | '911';

export type HostResult =
  | { readonly code: 'good' | 'nochg'; readonly addresses: readonly string[] }
  | { readonly code: Exclude<HostResultCode, 'good' | 'nochg'> };

export type DyndnsOutcome =
  | { readonly kind: 'hosts'; readonly results: readonly HostResult[] }
  | { readonly kind: 'account'; readonly code: AccountResultCode };

export const HOST_RESULT_CODES = ['good', 'nochg', 'notfqdn', 'nohost', 'abuse', 'dnserr'] as const;

import type { DyndnsOutcome, HostResult } from '@mydns/domain';

/**
 * The reply rules of docs/protocol.md ("Replies"): exactly one line per requested
 * hostname in request order, `\n`-separated, nothing else; account-level codes
 * as one line; 200 for every protocol result but the 401 challenge and 911.
 */
export interface DyndnsReply {
  readonly status: 200 | 401 | 500;
  readonly body: string;
  readonly challenge: boolean;
}

function line(result: HostResult): string {
  if (result.code === 'good' || result.code === 'nochg') {
    return result.addresses.length > 0 ? `${result.code} ${result.addresses.join(',')}` : result.code;
  }
  return result.code;
}

export function formatDyndnsReply(outcome: DyndnsOutcome): DyndnsReply {
  if (outcome.kind === 'hosts')
    return { status: 200, body: outcome.results.map(line).join('\n'), challenge: false };
  switch (outcome.code) {
    case 'badauth':
      // wget, uclient-fetch, PowerShell -Credential send credentials only after
      // this challenge; OPNsense and scripts count any 2xx as success.
      return { status: 401, body: 'badauth', challenge: true };
    case '911':
      // inadyn retries 5xx later.
      return { status: 500, body: '911', challenge: false };
    default:
      return { status: 200, body: outcome.code, challenge: false };
  }
}

import type { OwnerRecord } from './owner-records.ts';

/** The lifecycle of a hostname (docs/architecture.md, "Lifecycle of a hostname"). */
export type HostStatus = 'active' | 'dormant' | 'disabled';

/** What DNS should say about one host: the input of the PowerDNS projection. */
export interface HostDnsState {
  readonly name: string;
  readonly ipv4: string | null;
  readonly ipv6: string | null;
  readonly status: HostStatus;
  /** Unexpired ACME DNS-01 values, served as TXT at `_acme-challenge.<host>`. */
  readonly acme: readonly string[];
  /** Mail forwarding on: the host gets `MX 10 <host>.mx.<zone>.` (the relay). */
  readonly mailEnabled: boolean;
  /** `*.<host>` answers the host's A/AAAA. */
  readonly wildcard?: boolean;
  /** The /64 interface-identifier AAAA records follow; null or absent: the /64 of `ipv6`. */
  readonly ipv6Prefix?: string | null;
  /** The owner's records (docs/interfaces.md, "Records beyond the host's address"). */
  readonly records?: readonly OwnerRecord[];
}

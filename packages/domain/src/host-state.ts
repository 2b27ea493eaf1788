/** The lifecycle of a hostname (ARCHITECTURE.md, "Lifecycle of a hostname"). */
export type HostStatus = 'active' | 'dormant' | 'disabled';

/** What DNS should say about one host: the input of the PowerDNS projection. */
export interface HostDnsState {
  readonly name: string;
  readonly ipv4: string | null;
  readonly ipv6: string | null;
  readonly status: HostStatus;
}

/**
 * Where the relay may connect (docs/smtp-relay.md, "Safety"). A host's owner
 * chooses the address and port we connect to, so each literal address is
 * checked before any connect: special-purpose ranges (RFC 6890, with the IPv4
 * inside IPv6 forms decoded), the relay's own addresses, and denied ports.
 * No DNS happens at connect time: the address is the one in Postgres.
 */
import { type IpAddress, isDeniedMailPort, specialAddressReason } from '@mydns/domain';

export interface TargetPolicyOptions {
  /** The relay's public addresses (MYDNS_RELAY_ADDRESS). */
  readonly ownAddresses: readonly IpAddress[];
  /** The port the relay listens on: connecting to ourselves there is a loop. */
  readonly ownPort: number;
  /** MYDNS_RELAY_ALLOW_PRIVATE_TARGETS: loopback and private targets for tests and labs. */
  readonly allowPrivate: boolean;
}

export type TargetCheck = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

export interface TargetPolicy {
  check(address: IpAddress, port: number): TargetCheck;
}

const same = (a: IpAddress, b: IpAddress) => a.family === b.family && a.text === b.text;

export function createTargetPolicy(options: TargetPolicyOptions): TargetPolicy {
  return {
    check(address, port) {
      if (isDeniedMailPort(port))
        return { allowed: false, reason: `port ${port} is not a mail port we connect to` };
      const own = options.ownAddresses.some((mine) => same(mine, address));
      if (own && (!options.allowPrivate || port === options.ownPort)) {
        return { allowed: false, reason: `${address.text} is the relay's own address` };
      }
      if (options.allowPrivate) {
        // Even in a lab, the listening port on loopback is ourselves.
        if (port === options.ownPort && (address.text.startsWith('127.') || address.text === '::1')) {
          return { allowed: false, reason: `${address.text}:${port} is the relay itself` };
        }
        return { allowed: true };
      }
      const reason = specialAddressReason(address);
      return reason ? { allowed: false, reason: `${address.text} is ${reason}` } : { allowed: true };
    },
  };
}

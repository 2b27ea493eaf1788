/**
 * Addresses that stand for other addresses. Pure. The SMTP relay connects to whatever address a host's owner
 * published (docs/smtp-relay.md, "Safety"), so before any connect it decodes the
 * IPv4 address hidden in IPv6 forms and checks both against the special-purpose
 * ranges of RFC 6890 (`isPublicAddress`). Denied ports are in mail.ts.
 */
import { type IpAddress, isPublicAddress, parseIpAddress } from './ip-address.ts';

function v4(bytes: Uint8Array): IpAddress | undefined {
  return parseIpAddress(Array.from(bytes).join('.'));
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((value, i) => bytes[i] === value);
}

function allZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

export type EmbeddingForm = 'ipv4-compatible' | 'nat64' | 'nat64-local' | '6to4' | 'teredo';

/**
 * The IPv4 address an IPv6 address carries, with the form it was found in:
 * IPv4-compatible `::a.b.c.d` (RFC 4291, deprecated), NAT64 `64:ff9b::/96`
 * (RFC 6052) and the local-use `64:ff9b:1::/48` (RFC 8215, last 32 bits),
 * 6to4 `2002:AABB:CCDD::/48` (RFC 3056) and Teredo `2001::/32` (RFC 4380,
 * client address inverted in the last 32 bits). IPv4-mapped `::ffff:a.b.c.d`
 * never reaches here: `parseIpAddress` already turns it into IPv4.
 */
export function embeddedIPv4(address: IpAddress): { form: EmbeddingForm; address: IpAddress } | undefined {
  if (address.family !== 6) return undefined;
  const b = address.bytes;
  const found = (form: EmbeddingForm, bytes: Uint8Array) => {
    const inner = v4(bytes);
    return inner ? { form, address: inner } : undefined;
  };
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b]) && allZero(b, 4, 12)) return found('nat64', b.slice(12));
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01])) return found('nat64-local', b.slice(12));
  if (startsWith(b, [0x20, 0x02])) return found('6to4', b.slice(2, 6));
  if (startsWith(b, [0x20, 0x01, 0x00, 0x00]))
    return found(
      'teredo',
      b.slice(12).map((byte) => byte ^ 0xff),
    );
  // `::` and `::1` are themselves special; anything else with 96 zero bits is the old compatible form.
  if (allZero(b, 0, 12) && !allZero(b, 12, 15)) return found('ipv4-compatible', b.slice(12));
  return undefined;
}

/**
 * Why a mail relay must not connect to this address, or undefined when it may:
 * `special-purpose` (RFC 6890: private, loopback, link-local, CGNAT,
 * documentation, multicast, reserved …) or `embeds <ipv4>` for the IPv6 forms
 * above (they are special-purpose too, but the embedded address is what a
 * connection would reach, so it is named).
 */
export function specialAddressReason(address: IpAddress): string | undefined {
  const embedded = embeddedIPv4(address);
  if (embedded) {
    const kind = isPublicAddress(embedded.address) ? 'public' : 'special-purpose';
    return `${embedded.form} form of ${kind} ${embedded.address.text}`;
  }
  return isPublicAddress(address) ? undefined : 'special-purpose';
}

/**
 * Passing the real client address to a home mail server (docs/smtp-relay.md, "The
 * real client address"). Pure: these build the bytes; backend.ts sends them.
 *
 * - XCLIENT (Postfix XCLIENT_README): attributes in xtext, only those the
 *   server advertised, HELO and PROTO first and ADDR last, one line ≤ 512.
 * - PROXY protocol v1 (text) and v2 (binary), haproxy doc/proxy-protocol.txt.
 */
import type { IpAddress } from '@mydns/domain';

export interface Endpoint {
  readonly address: IpAddress;
  readonly port: number;
}

/** RFC 3461 xtext: "+" "=" and anything outside "!".."~" as +HH. */
export function encodeXtext(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'latin1')) {
    out +=
      byte < 0x21 || byte > 0x7e || byte === 0x2b || byte === 0x3d
        ? `+${byte.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(byte);
  }
  return out;
}

export interface XclientInput {
  readonly client: Endpoint;
  /** The client's HELO name, when it gave one. */
  readonly helo: string | undefined;
  readonly esmtp: boolean;
  /** Reverse DNS name, or undefined for `[UNAVAILABLE]`. */
  readonly name?: string;
}

/** XCLIENT's line limit (Postfix `XCLIENT_README`: the command line is at most 512 bytes). */
const XCLIENT_MAX = 510;

/**
 * The XCLIENT command for the attributes `advertised` (upper case, from the
 * backend's `XCLIENT` EHLO keyword), or undefined when it advertised none we
 * have. HELO is dropped first if the line would be too long.
 */
export function formatXclient(input: XclientInput, advertised: ReadonlySet<string>): string | undefined {
  const addr =
    input.client.address.family === 6 ? `IPV6:${input.client.address.text}` : input.client.address.text;
  const all: [string, string | undefined][] = [
    ['PROTO', input.esmtp ? 'ESMTP' : 'SMTP'],
    ['HELO', input.helo],
    ['NAME', input.name ?? '[UNAVAILABLE]'],
    ['PORT', String(input.client.port)],
    ['ADDR', addr],
  ];
  let attributes = all.filter(
    (entry): entry is [string, string] => entry[1] !== undefined && advertised.has(entry[0]),
  );
  const line = () => `XCLIENT ${attributes.map(([key, value]) => `${key}=${encodeXtext(value)}`).join(' ')}`;
  if (attributes.length === 0) return undefined;
  if (line().length > XCLIENT_MAX) attributes = attributes.filter(([key]) => key !== 'HELO');
  if (attributes.length === 0 || line().length > XCLIENT_MAX) return undefined;
  return line();
}

/**
 * The destination must be of the client's family in both versions; when our
 * listening address is of the other family (an IPv4 client on an IPv6
 * socket is already IPv4 here), the unspecified address of the client's family stands in.
 */
function destinationFor(source: Endpoint, destination: Endpoint): Endpoint {
  if (source.address.family === destination.address.family) return destination;
  const unspecified: IpAddress =
    source.address.family === 4
      ? { family: 4, text: '0.0.0.0', bytes: new Uint8Array(4) }
      : { family: 6, text: '::', bytes: new Uint8Array(16) };
  return { address: unspecified, port: destination.port };
}

/** `PROXY TCP4 <src> <dst> <sport> <dport>\r\n` */
export function proxyV1Header(source: Endpoint, destination: Endpoint): Buffer {
  const dst = destinationFor(source, destination);
  const family = source.address.family === 4 ? 'TCP4' : 'TCP6';
  return Buffer.from(
    `PROXY ${family} ${source.address.text} ${dst.address.text} ${source.port} ${dst.port}\r\n`,
    'latin1',
  );
}

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** The 16-byte v2 preamble (version 2, PROXY command, TCP over IPv4/IPv6) and the addresses. */
export function proxyV2Header(source: Endpoint, destination: Endpoint): Buffer {
  const dst = destinationFor(source, destination);
  const v4 = source.address.family === 4;
  const addressLength = v4 ? 12 : 36;
  const header = Buffer.alloc(16 + addressLength);
  V2_SIGNATURE.copy(header, 0);
  header[12] = 0x21; // version 2, command PROXY
  header[13] = v4 ? 0x11 : 0x21; // AF_INET or AF_INET6, SOCK_STREAM
  header.writeUInt16BE(addressLength, 14);
  const size = v4 ? 4 : 16;
  header.set(source.address.bytes, 16);
  header.set(dst.address.bytes, 16 + size);
  header.writeUInt16BE(source.port, 16 + 2 * size);
  header.writeUInt16BE(dst.port, 16 + 2 * size + 2);
  return header;
}

import type { MailHost } from '../hosts.ts';

/** The zone of the relay's unit tests. */
export const TEST_ZONE = 'example-dyn.test';

/** A host of TEST_ZONE (unless `overrides.zone`) forwarding mail to `127.0.0.1:port` (tests). */
export function mailHost(
  name: string,
  port: number,
  overrides: Partial<Omit<MailHost, 'mail'>> & { mail?: Partial<MailHost['mail']> } = {},
): MailHost {
  const { mail, ...rest } = overrides;
  return {
    name,
    zone: TEST_ZONE,
    ipv4: '127.0.0.1',
    ipv6: null,
    status: 'active',
    ...rest,
    mail: { enabled: true, port, clientAddress: 'none', tls: 'none', tlsFingerprint: null, ...mail },
  };
}

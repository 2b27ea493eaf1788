import { Resolver } from 'node:dns/promises';

/** Real DNS questions to PowerDNS's port: what a resolver on the Internet would be told. */
export interface DnsQuery {
  a(name: string): Promise<string[]>;
  aaaa(name: string): Promise<string[]>;
  txt(name: string): Promise<string[]>;
  /** `"<priority> <exchange>"` strings, e.g. `10 alice.mx.example.net`. */
  mx(name: string): Promise<string[]>;
  /** The target, without its trailing dot. */
  cname(name: string): Promise<string[]>;
  /** `"<priority> <weight> <port> <target>"` strings. */
  srv(name: string): Promise<string[]>;
  /** `"<flags> <tag> <value>"` strings, e.g. `0 issue letsencrypt.org`. */
  caa(name: string): Promise<string[]>;
  /** The zone's SOA serial (undefined when there is no SOA): what a secondary's copy is at. */
  soaSerial(zone: string): Promise<number | undefined>;
}

export function createDnsQuery(port: number): DnsQuery {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const empty = (error: NodeJS.ErrnoException) => {
    // NXDOMAIN and NODATA both mean "no such record".
    if (error.code === 'ENOTFOUND' || error.code === 'ENODATA') return [];
    throw error;
  };
  return {
    a: (name) => resolver.resolve4(name).then((r) => r.sort(), empty),
    aaaa: (name) => resolver.resolve6(name).then((r) => r.sort(), empty),
    txt: (name) => resolver.resolveTxt(name).then((r) => r.map((parts) => parts.join('')).sort(), empty),
    mx: (name) =>
      resolver.resolveMx(name).then((r) => r.map((mx) => `${mx.priority} ${mx.exchange}`).sort(), empty),
    cname: (name) => resolver.resolveCname(name).then((r) => r.sort(), empty),
    srv: (name) =>
      resolver
        .resolveSrv(name)
        .then((r) => r.map((s) => `${s.priority} ${s.weight} ${s.port} ${s.name}`).sort(), empty),
    caa: (name) =>
      resolver.resolveCaa(name).then(
        (r) =>
          r
            .map((c) => {
              const [tag, value] = Object.entries(c).find(([key]) => key !== 'critical') ?? ['?', ''];
              return `${c.critical} ${tag} ${String(value)}`;
            })
            .sort(),
        empty,
      ),
    soaSerial: (zone) =>
      resolver.resolveSoa(zone).then(
        (soa) => soa.serial,
        (error: NodeJS.ErrnoException) => empty(error)[0],
      ),
  };
}

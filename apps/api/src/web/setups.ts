/**
 * Ready-to-paste update setups for every client the service supports,
 * filled in with the host's name, the service's address and (by choice) an
 * update token. Pure: the dashboard renders them, and tests run the ones a
 * Debian package can run (curl, wget, ddclient, inadyn, and the ACME hooks'
 * download) against a real server.
 */

export interface SetupInput {
  /** Where clients reach MyDNS, e.g. `https://dyn.example.net` (no trailing slash). */
  readonly baseUrl: string;
  /** The host's full name. */
  readonly hostname: string;
  /** A token, or a placeholder the owner replaces. */
  readonly secret: string;
  /**
   * `update4.<zone>` and `update6.<zone>`, when the operator publishes them
   * (MYDNS_API_ADDRESS): each family is then updated from its own TCP source.
   */
  readonly familyHosts?: { readonly v4: string; readonly v6: string };
}

export type SetupGroup = 'computer' | 'router' | 'certificate';

export interface Setup {
  readonly id: string;
  readonly group: SetupGroup;
  readonly title: string;
  readonly intro: string;
  readonly code: string;
  readonly note?: string;
}

export function buildSetups(input: SetupInput): Setup[] {
  const url = new URL(input.baseUrl);
  const https = url.protocol === 'https:';
  const hostPort = url.host; // "dyn.example.net" or "127.0.0.1:8080"
  const { hostname: host, secret, baseUrl } = input;
  const simpleUrl = `${baseUrl}/u.php?hostname=${host}&token=${secret}`;
  const updateUrl = `${baseUrl}/nic/update?hostname=${host}`;
  /** The same address with the host replaced: `update4.<zone>` (keeping scheme and port). */
  const via = (name: string) => {
    const other = new URL(baseUrl);
    other.hostname = name;
    return other.toString().replace(/\/$/, '');
  };
  const families = input.familyHosts;
  const cronLine = (url: string, flag = '') =>
    `*/5 * * * * r=$(curl -sS${flag} '${url}') ; case "$r" in good*|nochg*) ;; *) echo "MyDNS: $r" ;; esac`;
  return [
    {
      id: 'curl',
      group: 'computer',
      title: 'curl + cron',
      intro:
        'Add this line with crontab -e: every 5 minutes, the address the request comes from becomes your address.',
      // Only badauth is an HTTP error: dnserr, abuse, nohost… answer 200, so curl -f
      // alone would stay silent about them. The reply itself decides.
      code: cronLine(simpleUrl),
      note: 'It prints nothing while updates work. Any refusal (badauth, abuse, dnserr…) or a failed connection is printed, and cron mails it to you.',
    },
    ...(families
      ? [
          {
            id: 'curl-dual-stack',
            group: 'computer' as const,
            title: 'curl + cron, IPv4 and IPv6 each from its own connection',
            intro: `For dual-stack, DS-Lite and IPv6-only lines: ${families.v4} answers over IPv4 only and ${families.v6} over IPv6 only, so each request sets the address family it came over (the other one is kept).`,
            code: [
              cronLine(`${via(families.v4)}/u.php?hostname=${host}&token=${secret}`, ' -4'),
              cronLine(`${via(families.v6)}/u.php?hostname=${host}&token=${secret}`, ' -6'),
            ].join('\n'),
            note: 'Behind DS-Lite the IPv4 line reports the provider’s shared address; keep it only if that is what you want published.',
          },
        ]
      : []),
    {
      id: 'wget',
      group: 'computer',
      title: 'wget + cron',
      intro: 'The same with wget, for systems without curl.',
      // wget prints no body for a 401 (badauth): its exit code says it instead.
      code: `*/5 * * * * r=$(wget -qO- --content-on-error '${simpleUrl}' 2>&1 || echo "wget exit $? (6: the token was refused)") ; case "$r" in good*|nochg*) ;; *) echo "MyDNS: $r" ;; esac`,
      note: 'Like the curl line: silent while updates work, and any refusal is printed for cron to mail.',
    },
    {
      id: 'powershell',
      group: 'computer',
      title: 'PowerShell 5.1 and 7 (Windows scheduled task)',
      intro:
        'Save the first part as C:\\mydns\\update.ps1, then run the second part once in an administrator PowerShell.',
      code: [
        '# C:\\mydns\\update.ps1',
        ...(https
          ? [
              '# Windows PowerShell 5.1 on older Windows offers only old TLS versions unless told:',
              '[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12',
            ]
          : []),
        `$pair = '${host}:${secret}'`,
        "$headers = @{ Authorization = 'Basic ' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($pair)) }",
        `Invoke-RestMethod -Uri '${updateUrl}' -Headers $headers`,
        '',
        '# Register the task (every 5 minutes):',
        "$action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument '-NoProfile -ExecutionPolicy Bypass -File C:\\mydns\\update.ps1'",
        '$trigger = New-ScheduledTaskTrigger -Once -At (Get-Date) -RepetitionInterval (New-TimeSpan -Minutes 5)',
        "Register-ScheduledTask -TaskName 'MyDNS update' -Action $action -Trigger $trigger",
      ].join('\n'),
      note: https
        ? 'The Authorization header is sent at once (no challenge round trip), which works the same in 5.1 and 7.'
        : 'This server speaks plain HTTP: PowerShell 7 refuses -Credential over http, which is why the header is built by hand. Prefer an https:// address if the service offers one.',
    },
    {
      id: 'ddclient',
      group: 'computer',
      title: 'ddclient (/etc/ddclient.conf)',
      intro: 'ddclient checks your address every 5 minutes and updates only when it changed.',
      code: [
        'daemon=300',
        'protocol=dyndns2',
        `use=web, web=${baseUrl}/checkip, web-skip='Current IP Address:'`,
        `ssl=${https ? 'yes' : 'no'}`,
        `server=${hostPort}`,
        'script=/nic/update',
        `login=${host}`,
        `password='${secret}'`,
        host,
      ].join('\n'),
      note: 'Keep the file readable by root only (chmod 600).',
    },
    {
      id: 'inadyn',
      group: 'computer',
      title: 'inadyn (/etc/inadyn.conf)',
      intro: 'For inadyn 2.x, as on many Linux boxes, DD-WRT and UniFi gateways.',
      code: [
        'period = 300',
        '',
        'custom mydns {',
        `    ssl            = ${https ? 'true' : 'false'}`,
        `    username       = "${host}"`,
        `    password       = "${secret}"`,
        `    ddns-server    = "${hostPort}"`,
        '    ddns-path      = "/nic/update?hostname=%h&myip=%i"',
        `    checkip-server = "${hostPort}"`,
        '    checkip-path   = "/checkip"',
        `    checkip-ssl    = ${https ? 'true' : 'false'}`,
        `    hostname       = "${host}"`,
        '}',
      ].join('\n'),
    },
    {
      id: 'fritzbox',
      group: 'router',
      title: 'AVM Fritz!Box',
      intro: 'Internet → Permit Access → DynDNS, provider "User-defined":',
      code: [
        `Update-URL:   ${baseUrl}/nic/update?hostname=<domain>&myip=<ipaddr>,<ip6addr>&ip6lanprefix=<ip6lanprefix>`,
        `Domain name:  ${host}`,
        `Username:     ${host}`,
        `Password:     ${secret}`,
      ].join('\n'),
      // Both in one request: a prefix-only update makes the Fritz!Box re-check the
      // host's AAAA and re-send while it differs (nsupdate.info PR#497).
      note: 'The box’s own addresses and its LAN prefix go in one request: records with an interface identifier (AAAA ::211:22ff:fe33:4455, page "Records") follow the LAN prefix when the provider changes it.',
    },
    {
      id: 'openwrt',
      group: 'router',
      title: 'OpenWrt (luci-app-ddns)',
      intro: 'Services → Dynamic DNS → add a service, provider "-- custom --", then:',
      code: [
        `Custom update-URL:  http${https ? 's' : ''}://[USERNAME]:[PASSWORD]@${hostPort}/nic/update?hostname=[DOMAIN]&myip=[IP]`,
        `Lookup Hostname:    ${host}`,
        `Domain:             ${host}`,
        `Username:           ${host}`,
        `Password:           ${secret}`,
        `Use HTTP Secure:    ${https ? 'on' : 'off'}`,
      ].join('\n'),
      note: `Add a second service with "IPv6" selected, IP address source "Network" = lan, and the update-URL ${`http${https ? 's' : ''}://[USERNAME]:[PASSWORD]@${families ? new URL(via(families.v6)).host : hostPort}/nic/update?hostname=[DOMAIN]&myipv6=[IP]&ip6lanprefix=[IP]/64`}: the AAAA is the router’s LAN address and records with an interface identifier (page "Records") follow the LAN prefix.`,
    },
    {
      id: 'pfsense',
      group: 'router',
      title: 'pfSense and OPNsense',
      intro:
        'pfSense: Services → Dynamic DNS → Add, type "Custom". OPNsense: Services → Dynamic DNS, service "Custom", protocol DynDNS2.',
      code: [
        '# pfSense',
        `Update URL:    ${updateUrl}&myip=%IP%`,
        `Username:      ${host}`,
        `Password:      ${secret}`,
        'Result Match:  good %IP%|nochg %IP%',
        '',
        '# OPNsense (os-ddclient)',
        `Server:        ${hostPort}`,
        `Username:      ${host}`,
        `Password:      ${secret}`,
        `Hostname(s):   ${host}`,
      ].join('\n'),
    },
    {
      id: 'mikrotik',
      group: 'router',
      title: 'MikroTik (RouterOS)',
      intro:
        'Paste these two lines into the terminal (WinBox → New Terminal, or SSH): a script that calls the update URL, and a scheduler entry that runs it every 5 minutes and at boot.',
      code: [
        // RouterOS reads "?" typed in its terminal as a request for help; "\?" is the same character in a string.
        `/system script add name=mydns-update policy=read,write,test source={/tool fetch url="${updateUrl.replace('?', '\\?')}" user="${host}" password="${secret}" output=none}`,
        '/system scheduler add name=mydns-update interval=5m start-time=startup on-event="/system script run mydns-update"',
      ].join('\n'),
      note: `Try it once with /system script run mydns-update: a refused update shows in the Log. Needs RouterOS 6.43 or later.${https ? ' /tool fetch checks the server certificate only with check-certificate=yes and its CA imported.' : ''}`,
    },
    {
      id: 'router',
      group: 'router',
      title: 'Any other router ("custom DynDNS")',
      intro: 'Most routers with a custom DynDNS provider ask for these fields.',
      code: [
        'Protocol:  DynDNS2 (dyndns.org compatible)',
        `Server:    ${hostPort}`,
        'Path:      /nic/update',
        `Username:  ${host}`,
        `Password:  ${secret}`,
        `Hostname:  ${host}`,
      ].join('\n'),
    },
    {
      id: 'certbot',
      group: 'certificate',
      title: 'certbot (Let’s Encrypt, DNS-01)',
      intro: `A certificate for ${host} and *.${host}: the hook puts certbot's challenge in DNS and takes it away again. As root:`,
      code: [
        '# 1. The hook, from this server',
        `curl -fsSo /usr/local/bin/mydns-certbot-hook.sh '${baseUrl}/static/acme/mydns-certbot-hook.sh'`,
        'chmod 0755 /usr/local/bin/mydns-certbot-hook.sh',
        '# 2. Its settings, readable by root only',
        'install -d -m 0700 /etc/mydns',
        'install -m 0600 /dev/null /etc/mydns/acme.conf',
        "cat > /etc/mydns/acme.conf <<'CONF'",
        `MYDNS_URL=${baseUrl}`,
        `MYDNS_TOKEN=${secret}`,
        'CONF',
        '# 3. The certificate; certbot renew uses the same hooks',
        'certbot certonly --manual --preferred-challenges dns \\',
        "  --manual-auth-hook '/usr/local/bin/mydns-certbot-hook.sh auth' \\",
        "  --manual-cleanup-hook '/usr/local/bin/mydns-certbot-hook.sh cleanup' \\",
        `  -d ${host} -d '*.${host}'`,
      ].join('\n'),
      note: 'Use a token of its own for certbot (Tokens → New token): it can set challenges and addresses, nothing else, and the hook gives it to curl on standard input, never on a command line.',
    },
    {
      id: 'acmesh',
      group: 'certificate',
      title: 'acme.sh (DNS-01)',
      intro: `The same with acme.sh: its DNS API hook for MyDNS, then a certificate for ${host} and *.${host}.`,
      code: [
        `curl -fsSo ~/.acme.sh/dnsapi/dns_mydns.sh '${baseUrl}/static/acme/dns_mydns.sh'`,
        `export MYDNS_URL=${baseUrl} MYDNS_TOKEN=${secret}`,
        `acme.sh --issue --dns dns_mydns -d ${host} -d '*.${host}'`,
      ].join('\n'),
      note: 'acme.sh keeps MYDNS_URL and MYDNS_TOKEN in its account.conf after the first run, so renewals need no environment.',
    },
  ];
}

/**
 * What test/run.ts started, as seen from inside a test file: a Postgres to
 * clone databases on, a shared PowerDNS, and a work folder. A test file run
 * on its own (without `npm test`) fails here with the reason.
 */
export const TEMPLATE_DATABASE = 'mydns_test_template';

export interface Harness {
  readonly postgresUrl: string;
  readonly pdnsApiUrl: string;
  readonly pdnsApiKey: string;
  readonly dnsPort: number;
  readonly workDir: string;
}

export function harness(): Harness {
  const env = process.env;
  const postgresUrl = env.MYDNS_TEST_PG_URL;
  const pdnsApiUrl = env.MYDNS_TEST_PDNS_API_URL;
  const pdnsApiKey = env.MYDNS_TEST_PDNS_API_KEY;
  const dnsPort = Number(env.MYDNS_TEST_DNS_PORT);
  const workDir = env.MYDNS_TEST_WORK_DIR;
  if (!postgresUrl || !pdnsApiUrl || !pdnsApiKey || !dnsPort || !workDir) {
    throw new Error(
      'integration tests run through `npm test` (test/run.ts), which starts Postgres and PowerDNS',
    );
  }
  return { postgresUrl, pdnsApiUrl, pdnsApiKey, dnsPort, workDir };
}

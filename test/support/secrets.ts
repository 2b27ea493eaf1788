import { appendFileSync } from 'node:fs';

/**
 * Every credential a test sends is noted here, so that test/run.ts can check,
 * after the whole run, that none of them reached a log line (docs/operations.md, "Logs").
 */
const SECRET_KEYS = new Set([
  'password',
  'pass',
  'pwd',
  'p',
  'token',
  // Accounts: a session's confirmation, a TOTP secret, a webhook's signing secret.
  'currentpassword',
  'secret',
  'webhooksecret',
]);

export function noteSecret(secret: string | undefined): void {
  const file = process.env.MYDNS_TEST_SECRETS_FILE;
  if (!file || !secret || secret.length < 8) return;
  appendFileSync(file, `${JSON.stringify(secret)}\n`);
}

/** Notes the credentials in a request: Basic auth, and secrets in the query or a form/JSON body. */
export function noteSecretsOf(path: string, auth?: [string, string], body?: string): void {
  if (auth) noteSecret(auth[1]);
  const query = path.includes('?') ? path.slice(path.indexOf('?') + 1) : '';
  for (const source of [query, body ?? '']) {
    try {
      for (const [key, value] of new URLSearchParams(source))
        if (SECRET_KEYS.has(key.toLowerCase())) noteSecret(value);
    } catch {
      // not a query string
    }
  }
  if (body?.startsWith('{')) {
    try {
      const json = JSON.parse(body) as Record<string, unknown>;
      for (const [key, value] of Object.entries(json)) {
        if (SECRET_KEYS.has(key.toLowerCase()) && typeof value === 'string') noteSecret(value);
      }
    } catch {
      // not JSON
    }
  }
}

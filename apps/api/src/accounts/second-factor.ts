import { createHash, randomBytes } from 'node:crypto';
import type { AccountRecord, AccountsRepository } from '@mydns/db';
import { encodeBase32, generateTotpSecret, otpauthUrl, verifyTotp } from '../auth/totp.ts';
import { apiError } from '../errors.ts';

/**
 * TOTP for accounts (README "Accounts"): set up (a pending secret and the
 * recovery codes, shown once), confirmed with a code, then asked for at every
 * web sign-in. Recovery codes stand in for a code once each; only their
 * SHA-256 is stored (each has 50 random bits, and every try is counted by
 * the login guard like a password).
 */

export const RECOVERY_CODES = 10;

export interface TotpSetup {
  readonly secret: string;
  readonly otpauthUrl: string;
  readonly recoveryCodes: readonly string[];
}

export interface AccountSecondFactor {
  /** The issuer authenticator apps show next to the code. */
  readonly issuer: string;
  start(account: AccountRecord): Promise<TotpSetup>;
  /** Turns TOTP on with a code from the pending secret. */
  confirm(account: AccountRecord, code: unknown): Promise<void>;
  /** A current code or an unused recovery code (used up); false for anything else. */
  check(account: AccountRecord, code: string): Promise<boolean>;
}

/** `abcde-fghij`: 10 base32 letters, lower case, in two groups to read out. */
function newRecoveryCode(): string {
  const letters = encodeBase32(randomBytes(7)).slice(0, 10).toLowerCase();
  return `${letters.slice(0, 5)}-${letters.slice(5)}`;
}

export const hashRecoveryCode = (code: string): Buffer =>
  createHash('sha256').update(code.trim().toLowerCase().replace(/[\s-]/g, '')).digest();

export function createAccountSecondFactor(deps: {
  accounts: Pick<
    AccountsRepository,
    'setPendingTotp' | 'enableTotp' | 'useTotpStep' | 'useRecoveryCode' | 'findById'
  >;
  /** The issuer apps show next to the code (the service's public name). */
  issuer: string;
  now?: () => number;
}): AccountSecondFactor {
  const now = deps.now ?? Date.now;
  return {
    issuer: deps.issuer,
    async start(account) {
      if (account.totpSecret !== null) throw apiError('totp_already_on', 'TOTP is on already');
      const secret = generateTotpSecret();
      const recoveryCodes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
      await deps.accounts.setPendingTotp(account.id, secret, recoveryCodes.map(hashRecoveryCode));
      return {
        secret: encodeBase32(secret),
        otpauthUrl: otpauthUrl({ issuer: deps.issuer, account: account.email, secret }),
        recoveryCodes,
      };
    },
    async confirm(account, code) {
      const fresh = await deps.accounts.findById(account.id);
      if (!fresh) throw apiError('not_found', 'the account no longer exists');
      if (fresh.totpSecret !== null) throw apiError('totp_already_on', 'TOTP is on already');
      if (!fresh.totpPendingSecret) throw apiError('totp_not_started', 'start the TOTP setup first');
      const step =
        typeof code === 'string' ? verifyTotp(fresh.totpPendingSecret, code, { nowMs: now() }) : undefined;
      if (step === undefined) throw apiError('invalid_totp_code', 'that code is not the current one');
      if (!(await deps.accounts.enableTotp(account.id, step)))
        throw apiError('totp_not_started', 'start the TOTP setup first');
    },
    async check(account, code) {
      const fresh = await deps.accounts.findById(account.id);
      if (!fresh?.totpSecret) return false;
      if (/^[0-9\s]+$/.test(code)) {
        const step = verifyTotp(fresh.totpSecret, code, { nowMs: now(), lastStep: fresh.totpLastStep });
        return step !== undefined && (await deps.accounts.useTotpStep(fresh.id, step));
      }
      return code.trim() !== '' && deps.accounts.useRecoveryCode(fresh.id, hashRecoveryCode(code));
    },
  };
}

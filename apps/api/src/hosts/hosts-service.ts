import type { HostRecord, HostsRepository } from '@mydns/db';
import { checkRegistrableLabel, fqdn } from '@mydns/domain';
import { badRequest, conflict, forbidden } from '@mydns/runtime';
import type { BcryptPool } from '../auth/bcrypt-pool.ts';

export const MIN_PASSWORD_LENGTH = 8;
/** bcrypt ignores everything after 72 bytes; a longer password would accept any ending. */
export const MAX_PASSWORD_BYTES = 72;

export interface HostView {
  readonly hostname: string;
  readonly name: string;
  readonly ipv4: string | null;
  readonly ipv6: string | null;
  readonly status: string;
  readonly createdAt: string;
  readonly updatedAt: string | null;
  readonly lastSeenAt: string | null;
  readonly mail: { readonly enabled: false };
}

export interface RegistrationInput {
  readonly hostname: unknown;
  readonly password: unknown;
  readonly email?: unknown;
}

export interface HostsService {
  register(input: RegistrationInput, options?: { bypassClosed?: boolean }): Promise<HostView>;
  find(name: string): Promise<HostRecord | undefined>;
  list(): Promise<HostView[]>;
  view(host: HostRecord): HostView;
}

export function checkPassword(password: unknown): string {
  if (typeof password !== 'string' || password.length === 0) {
    throw badRequest('password_required', 'a password is required');
  }
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw badRequest('password_too_short', `the password needs at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    throw badRequest('password_too_long', `the password can have at most ${MAX_PASSWORD_BYTES} bytes`);
  }
  return password;
}

function checkEmail(email: unknown): string | null {
  if (email === undefined || email === null || email === '') return null;
  if (typeof email !== 'string' || email.length > 254 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    throw badRequest('invalid_email', 'the contact e-mail address is not valid');
  }
  return email;
}

export function createHostsService(deps: {
  zone: string;
  hosts: HostsRepository;
  bcrypt: BcryptPool;
  bcryptCost: number;
  registration: 'open' | 'closed';
}): HostsService {
  const view = (host: HostRecord): HostView => ({
    hostname: fqdn(host.name, deps.zone),
    name: host.name,
    ipv4: host.ipv4,
    ipv6: host.ipv6,
    status: host.status,
    createdAt: host.createdAt.toISOString(),
    updatedAt: host.addressChangedAt?.toISOString() ?? null,
    lastSeenAt: host.lastSeenAt?.toISOString() ?? null,
    mail: { enabled: false },
  });
  return {
    async register(input, options = {}) {
      if (deps.registration === 'closed' && !options.bypassClosed) {
        throw forbidden('registration_closed', 'registration is closed on this service');
      }
      if (typeof input.hostname !== 'string') throw badRequest('hostname_required', 'a hostname is required');
      const label = checkRegistrableLabel(input.hostname, deps.zone);
      if (!label.ok) throw badRequest(`hostname_${label.problem}`, label.message);
      const password = checkPassword(input.password);
      const contactEmail = checkEmail(input.email);
      if (await deps.hosts.findByName(label.label)) {
        throw conflict('hostname_taken', `${fqdn(label.label, deps.zone)} is already taken`);
      }
      const passwordHash = await deps.bcrypt.hash(password, deps.bcryptCost);
      const created = await deps.hosts.create({ name: label.label, passwordHash, contactEmail });
      if (!created) throw conflict('hostname_taken', `${fqdn(label.label, deps.zone)} is already taken`);
      return view(created);
    },
    find: (name) => deps.hosts.findByName(name),
    async list() {
      return (await deps.hosts.list({ limit: 100_000 })).map(view);
    },
    view,
  };
}

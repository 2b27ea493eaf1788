import { createHmac, randomBytes } from 'node:crypto';
import type { Credential } from './authenticator.ts';

/**
 * Remembers credentials that verified recently, so a router updating every
 * five minutes costs one bcrypt per TTL, not one per call (docs/architecture.md,
 * "The update path", step 3). The key is an HMAC of the secret under a random per-process key:
 * nothing in memory can be turned back into a password, and a heap dump of
 * one process is useless against another. Each entry is bound to the stored
 * hash and the host's credential version, so a password change or a revoked
 * token invalidates it at once: the binding is part of what the key is an HMAC
 * of, so an entry made under another binding is never found (and costs no
 * memory of its own to compare). Entries expire `ttlMs` after the check that
 * created them (a hit does not extend them); the oldest go first when full.
 */
export interface CredentialCache {
  get(owner: number | string, secret: string, binding: string): Credential | undefined;
  remember(owner: number | string, secret: string, binding: string, credential: Credential): void;
  stats(): { size: number; hits: number; misses: number };
}

export function createCredentialCache(options: {
  ttlMs: number;
  maxEntries?: number;
  now?: () => number;
}): CredentialCache {
  const processKey = randomBytes(32);
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { credential: Credential; expiresAt: number }>();
  let hits = 0;
  let misses = 0;
  /** Lengths first, so no owner, binding and secret are the same key as another three. */
  const keyOf = (owner: number | string, secret: string, binding: string) => {
    const who = String(owner);
    return createHmac('sha256', processKey)
      .update(`${who.length}:${who}${binding.length}:${binding}${secret}`)
      .digest('base64url');
  };

  return {
    get(owner, secret, binding) {
      const key = keyOf(owner, secret, binding);
      const entry = entries.get(key);
      if (entry && entry.expiresAt > now()) {
        hits++;
        return entry.credential;
      }
      if (entry) entries.delete(key);
      misses++;
      return undefined;
    },
    remember(owner, secret, binding, credential) {
      const key = keyOf(owner, secret, binding);
      entries.delete(key);
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
      entries.set(key, { credential, expiresAt: now() + options.ttlMs });
    },
    stats: () => ({ size: entries.size, hits, misses }),
  };
}

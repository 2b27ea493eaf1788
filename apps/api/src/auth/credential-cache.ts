import { createHmac, randomBytes } from 'node:crypto';

/**
 * Remembers credentials that verified recently, so a router updating every
 * five minutes costs one bcrypt per TTL, not one per call (ARCHITECTURE.md
 * step 3). The key is an HMAC of the secret under a random per-process key:
 * nothing in memory can be turned back into a password, and a heap dump of
 * one process is useless against another. Each entry is bound to the stored
 * hash, so a password change invalidates it at once. Entries expire `ttlMs`
 * after the bcrypt that created them (a hit does not extend them), and the
 * oldest go first when the cache is full.
 */
export interface CredentialCache {
  has(hostId: number, secret: string, storedHash: string): boolean;
  remember(hostId: number, secret: string, storedHash: string): void;
  forget(hostId: number): void;
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
  const entries = new Map<string, { hostId: number; storedHash: string; expiresAt: number }>();
  let hits = 0;
  let misses = 0;
  const keyOf = (hostId: number, secret: string) =>
    createHmac('sha256', processKey).update(`${hostId}\0${secret}`).digest('base64url');

  return {
    has(hostId, secret, storedHash) {
      const key = keyOf(hostId, secret);
      const entry = entries.get(key);
      if (entry && entry.storedHash === storedHash && entry.expiresAt > now()) {
        hits++;
        return true;
      }
      if (entry) entries.delete(key);
      misses++;
      return false;
    },
    remember(hostId, secret, storedHash) {
      const key = keyOf(hostId, secret);
      entries.delete(key);
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
      entries.set(key, { hostId, storedHash, expiresAt: now() + options.ttlMs });
    },
    forget(hostId) {
      for (const [key, entry] of entries) if (entry.hostId === hostId) entries.delete(key);
    },
    stats: () => ({ size: entries.size, hits, misses }),
  };
}

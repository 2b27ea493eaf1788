import { randomBytes } from 'node:crypto';
import type { Database } from './database.ts';

/** Secrets shared by every replica (migration 20261201100000): created by whoever asks first. */
export interface SecretsRepository {
  /** The secret `name`, 32 random bytes made on the first call of any replica. */
  getOrCreate(name: string): Promise<Buffer>;
}

export function createSecretsRepository(db: Database): SecretsRepository {
  return {
    async getOrCreate(name) {
      await db('app_secrets')
        .insert({ name, value: randomBytes(32) })
        .onConflict('name')
        .ignore();
      const row = await db('app_secrets').where({ name }).first<{ value: Buffer }>('value');
      if (!row) throw new Error(`the secret ${name} could not be created`);
      return row.value;
    },
  };
}

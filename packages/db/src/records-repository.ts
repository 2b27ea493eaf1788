import type { OwnerRecord, OwnerRecordType } from '@mydns/domain';
import type { Database } from './database.ts';
import { type HostKey, ownerRrsetKeys } from './hosts-repository.ts';

/** The owner's records of a host (docs/interfaces.md, "Records beyond the host's address"). */
export interface RecordsRepository {
  list(hostId: number): Promise<OwnerRecord[]>;
  /**
   * Replaces the whole set and queues the host for PowerDNS, in one
   * transaction under the host's row lock: one outbox row, so one PATCH. The
   * rrsets of the old set ride along as `stale` (`TYPE:subname`), so those the
   * new set drops leave DNS. Returns the outbox id; undefined when the host is gone.
   */
  replace(host: { id: number } & HostKey, records: readonly OwnerRecord[]): Promise<number | undefined>;
}

interface RecordRow {
  subname: string;
  type: OwnerRecordType;
  content: string;
  ttl: number;
}

const toRecord = (row: RecordRow): OwnerRecord => ({
  subname: row.subname,
  type: row.type,
  content: row.content,
  ttl: row.ttl,
});

export function createRecordsRepository(db: Database): RecordsRepository {
  return {
    async list(hostId) {
      const rows: RecordRow[] = await db('host_records')
        .where({ host_id: hostId })
        .orderBy('id')
        .select('subname', 'type', 'content', 'ttl');
      return rows.map(toRecord);
    },
    async replace(host, records) {
      return db.transaction(async (trx) => {
        const locked = await trx('hosts').where({ id: host.id }).forUpdate().first('id');
        if (!locked) return undefined;
        const stale = await ownerRrsetKeys(trx, host);
        await trx('host_records').where({ host_id: host.id }).delete();
        if (records.length > 0) {
          await trx('host_records').insert(
            records.map((record) => ({
              host_id: host.id,
              subname: record.subname,
              type: record.type,
              content: record.content,
              ttl: record.ttl,
            })),
          );
        }
        const [row] = await trx('dns_outbox')
          .insert({ zone: host.zone, name: host.name, stale: stale.length > 0 ? stale : null })
          .returning('id');
        return (row as { id: number }).id;
      });
    },
  };
}

import type { HostRecord, HostsRepository, RecordsRepository } from '@mydns/db';
import { checkOwnerRecords, fqdn, type OwnerRecord } from '@mydns/domain';
import { apiError } from '../errors.ts';
import type { Pushed } from './hosts-service.ts';

/**
 * The owner's records and the wildcard (docs/interfaces.md, "Records beyond
 * the host's address"). A PUT is checked whole before anything is written
 * (the first bad record is named, nothing changes), then replaces the set as
 * one change: one outbox row, pushed by the zone writer in one PATCH.
 */
export interface RecordsService {
  list(host: HostRecord): Promise<OwnerRecord[]>;
  replace(host: HostRecord, records: unknown): Promise<{ records: OwnerRecord[] } & Pushed>;
  /** Checks a `wildcard` value without changing anything (a PATCH validates every field first). */
  checkWildcard(value: unknown): boolean;
  setWildcard(host: HostRecord, value: unknown): Promise<Pushed>;
}

export function createRecordsService(deps: {
  records: RecordsRepository;
  hosts: Pick<HostsRepository, 'setWildcard'>;
  /** The TTL of a record that names none (MYDNS_RECORD_TTL). */
  defaultTtl: number;
  zoneWriters: { push(zone: string, outboxId: number, timeoutMs: number): Promise<boolean> };
  pushTimeoutMs: number;
}): RecordsService {
  const push = async (host: HostRecord, outboxId: number | undefined): Promise<Pushed> => ({
    pushed:
      outboxId === undefined ? true : await deps.zoneWriters.push(host.zone, outboxId, deps.pushTimeoutMs),
  });
  const checkChangeable = (host: HostRecord) => {
    if (host.status === 'disabled') {
      throw apiError('host_disabled', 'this host is disabled by the operator; it cannot be changed');
    }
  };
  const checkWildcard = (value: unknown): boolean => {
    if (typeof value !== 'boolean') throw apiError('invalid_wildcard', 'wildcard must be true or false');
    return value;
  };
  return {
    list: (host) => deps.records.list(host.id),
    async replace(host, input) {
      checkChangeable(host);
      const checked = checkOwnerRecords(input, {
        hostname: fqdn(host.name, host.zone),
        defaultTtl: deps.defaultTtl,
      });
      if (!checked.ok) {
        throw apiError('invalid_records', checked.message, { details: { index: checked.index } });
      }
      const outboxId = await deps.records.replace(host, checked.records);
      if (outboxId === undefined) throw apiError('host_not_found', `no host ${host.name}`);
      return { records: [...checked.records], ...(await push(host, outboxId)) };
    },
    checkWildcard,
    async setWildcard(host, value) {
      checkChangeable(host);
      return push(host, await deps.hosts.setWildcard(host.id, checkWildcard(value)));
    },
  };
}

/**
 * What PowerDNS holds for each host, as a fingerprint instead of the records
 * (docs/architecture.md, "The reconciler"): the reconciler's first read of
 * the zone keeps, per host label, two 32-bit hashes of the label and two
 * 32-bit sums of its records' hashes, 20 bytes a host in typed arrays. Held
 * as strings in a Map, a million hosts' records took the API past a gigabyte;
 * this table takes about 40 MB. The records themselves are read again only
 * for the hosts whose fingerprint differs from what Postgres wants.
 *
 * A record is hashed as the line `name<TAB>type<TAB>ttl<TAB>content`, and a
 * host's fingerprint is the sum of its lines' hashes (each lane modulo 2^32),
 * so the order records arrive in does not matter. Two labels with the same
 * 64-bit hash share a slot: both then differ from what Postgres wants, and
 * are read again and compared record by record, so a collision costs work,
 * never a wrong write. Two different record sets with the same 64-bit sum
 * would be taken as equal: at a million hosts that is a chance of about
 * one in 10^13 per pass, and the next pass hashes the same, so the
 * reconciler's promise is "equal up to a 64-bit hash" (written in the doc).
 */

/** The two lanes of the last `hash` call (no array per call: this runs twice per record). */
let laneA = 0;
let laneB = 0;

/** Two 32-bit hashes of `text` (multiply-xor per character, then an avalanche; cyrb53's lanes). */
function hash(text: string): void {
  let a = 0xdeadbeef;
  let b = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 2654435761);
    b = Math.imul(b ^ c, 1597334677);
  }
  a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
  b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
  laneA = a >>> 0;
  laneB = b >>> 0;
}

/** The line a record is hashed as; the same for what PowerDNS exports and what Postgres wants. */
export const recordLine = (name: string, type: string, ttl: number, content: string) =>
  `${name}\t${type}\t${ttl}\t${content}`;

const OCCUPIED = 1;
/** Postgres has a host of this label. */
const MATCHED = 2;
/** At least one of its records is at a name the reconciler may change (not an operator's). */
const OURS = 4;
/** Its records are to be read again and compared one by one. */
const SUSPECT = 8;
const STRIDE = 5;

export type FingerprintCheck = 'same' | 'differs' | 'absent';

export interface ZoneFingerprints {
  /** A record of `label` as PowerDNS holds it; `ours`: at a name the reconciler may change. */
  add(label: string, line: string, ours: boolean): void;
  /**
   * What Postgres wants for `label` (its lines) against what was added: marks
   * the label as Postgres's, and as suspect when it differs. `absent`:
   * PowerDNS holds nothing for it.
   */
  check(label: string, lines: readonly string[]): FingerprintCheck;
  /** Marks every label Postgres did not claim, with a record of ours, as suspect; how many. */
  markUnclaimed(): number;
  /** Whether `label`'s records are to be read again (what `check` and `markUnclaimed` found). */
  isSuspect(label: string): boolean;
  /** Labels held. */
  readonly size: number;
  /** Labels marked suspect. */
  readonly suspects: number;
}

export function createZoneFingerprints(initialSlots = 1024): ZoneFingerprints {
  let slots = 1;
  while (slots < initialSlots) slots *= 2;
  let table = new Uint32Array(slots * STRIDE);
  let size = 0;
  let suspects = 0;

  /** The slot of hash (a, b), or the empty one where it would go. */
  const find = (a: number, b: number): number => {
    const mask = slots - 1;
    for (let slot = a & mask; ; slot = (slot + 1) & mask) {
      const at = slot * STRIDE;
      const flags = table[at + 4] ?? 0;
      if ((flags & OCCUPIED) === 0 || (table[at] === a && table[at + 1] === b)) return at;
    }
  };

  const grow = () => {
    const old = table;
    slots *= 2;
    table = new Uint32Array(slots * STRIDE);
    for (let at = 0; at < old.length; at += STRIDE) {
      if (((old[at + 4] ?? 0) & OCCUPIED) === 0) continue;
      const to = find(old[at] ?? 0, old[at + 1] ?? 0);
      table.set(old.subarray(at, at + STRIDE), to);
    }
  };

  /** The two lanes' sums of `lines`' hashes. */
  const sumOf = (lines: readonly string[]): [number, number] => {
    let a = 0;
    let b = 0;
    for (const line of lines) {
      hash(line);
      a = (a + laneA) >>> 0;
      b = (b + laneB) >>> 0;
    }
    return [a, b];
  };

  return {
    add(label, line, ours) {
      if ((size + 1) * 2 > slots) grow();
      hash(label);
      const at = find(laneA, laneB);
      const flags = table[at + 4] ?? 0;
      if ((flags & OCCUPIED) === 0) {
        table[at] = laneA;
        table[at + 1] = laneB;
        size++;
      }
      hash(line);
      table[at + 2] = ((table[at + 2] ?? 0) + laneA) >>> 0;
      table[at + 3] = ((table[at + 3] ?? 0) + laneB) >>> 0;
      table[at + 4] = flags | OCCUPIED | (ours ? OURS : 0);
    },
    check(label, lines) {
      hash(label);
      const at = find(laneA, laneB);
      const flags = table[at + 4] ?? 0;
      if ((flags & OCCUPIED) === 0) return 'absent';
      const [a, b] = sumOf(lines);
      let next = flags | MATCHED;
      const same = table[at + 2] === a && table[at + 3] === b;
      if (!same && (flags & SUSPECT) === 0) {
        next |= SUSPECT;
        suspects++;
      }
      table[at + 4] = next;
      return same ? 'same' : 'differs';
    },
    markUnclaimed() {
      let marked = 0;
      for (let at = 0; at < table.length; at += STRIDE) {
        const flags = table[at + 4] ?? 0;
        if ((flags & (OCCUPIED | MATCHED | OURS | SUSPECT)) !== (OCCUPIED | OURS)) continue;
        table[at + 4] = flags | SUSPECT;
        marked++;
      }
      suspects += marked;
      return marked;
    },
    isSuspect(label) {
      hash(label);
      const at = find(laneA, laneB);
      return ((table[at + 4] ?? 0) & (OCCUPIED | SUSPECT)) === (OCCUPIED | SUSPECT);
    },
    get size() {
      return size;
    },
    get suspects() {
      return suspects;
    },
  };
}

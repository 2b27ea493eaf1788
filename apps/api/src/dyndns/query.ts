/**
 * Query-string decoding for the update endpoints. We parse the raw string
 * ourselves because the protocol needs what generic parsers throw away: a bare
 * key without `=` is a hostname (`/nic/update?alice.example`, old inadyn and
 * DD-WRT), and the first of repeated keys wins.
 */

export interface DecodedQuery {
  /** First value of each key, keys lower-cased. */
  readonly values: ReadonlyMap<string, string>;
  /** Keys that came without `=`, in order, as sent (decoded). */
  readonly bareKeys: readonly string[];
}

function decode(text: string): string {
  const spaced = text.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    // A stray `%` (inadyn passes `%XX` through, passwords may hold `%`): decode
    // what decodes and keep the rest as sent.
    return spaced.replace(/(%[0-9a-fA-F]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

export function decodeQuery(...sources: readonly string[]): DecodedQuery {
  const values = new Map<string, string>();
  const bareKeys: string[] = [];
  for (const source of sources) {
    for (const piece of source.split('&')) {
      if (piece === '') continue;
      const equals = piece.indexOf('=');
      if (equals === -1) {
        bareKeys.push(decode(piece));
        continue;
      }
      const key = decode(piece.slice(0, equals)).toLowerCase();
      if (!values.has(key)) values.set(key, decode(piece.slice(equals + 1)));
    }
  }
  return { values, bareKeys };
}

/** The first of `keys` that is present (even if empty). */
export function pick(query: DecodedQuery, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value = query.values.get(key);
    if (value !== undefined) return value;
  }
  return undefined;
}

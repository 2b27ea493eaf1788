/**
 * What the one running the migrations knows and a migration cannot: the
 * settings. Passed to every migration's `up` (migrations that need nothing
 * ignore it).
 */
export interface MigrationContext {
  /** The default zone (the first of MYDNS_ZONES): where rows that predate zones go. */
  readonly defaultZone?: string;
}

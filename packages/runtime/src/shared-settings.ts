import { type IpAddress, parseIpAddress } from '@mydns/domain';
import { z } from 'zod';
import { zAddressList, zZone, zZoneList } from './settings.ts';

/**
 * The settings the API and the relay both read, defined once: the same name
 * has the same default and the same error message in both apps (one `.env`
 * serves both under `npm start`). Each app spreads these into its own schema.
 */

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const sharedSettings = {
  DATABASE_URL: z.string().url('must be a postgres:// URL').optional(),
  MYDNS_ZONE: zZone.default('mydns.test'),
  /** Several zones, the default first (README "Several zones"); unset: MYDNS_ZONE alone. Checked with it by zoneSettingsProblems. */
  MYDNS_ZONES: zZoneList.optional(),
  /** The relay's public addresses: the API publishes them for `mx.<zone>`, the relay never connects to them. */
  MYDNS_RELAY_ADDRESS: zAddressList.default([parseIpAddress('127.0.0.1') as IpAddress]),
};

/** How both apps log; spread last, so these come last in a list of problems too. */
export const sharedLogSettings = {
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  NODE_ENV: z.string().optional(),
};

export interface LogSettings {
  readonly level: LogLevel;
  readonly format: 'json' | 'pretty';
}

/** JSON lines in production (for the log collector), readable lines elsewhere, unless LOG_FORMAT says. */
export function logSettings(s: {
  LOG_LEVEL: LogLevel;
  LOG_FORMAT?: 'json' | 'pretty' | undefined;
  NODE_ENV?: string | undefined;
}): LogSettings {
  return { level: s.LOG_LEVEL, format: s.LOG_FORMAT ?? (s.NODE_ENV === 'production' ? 'json' : 'pretty') };
}

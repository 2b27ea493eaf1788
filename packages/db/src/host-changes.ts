import { errorMessage, type Logger } from '@mydns/runtime';
import pg from 'pg';

/**
 * Every change to a host row is announced on the channel `mydns_hosts`, the
 * payload being the host's full name, `label.zone` (the trigger of migration
 * 20261127130000, zone-qualified since 20261204100000).
 * This listens on a connection of its own and reconnects with backoff; the
 * caches of the API and of the relay use it to drop what they hold about a
 * host the moment it changes.
 */
export const HOST_CHANGES_CHANNEL = 'mydns_hosts';

export interface HostChangeListener {
  /** Connects; rejects if the first attempt fails (it keeps retrying in the background). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True while notifications arrive: only then is a cache entry trustworthy beyond its TTL. */
  readonly listening: boolean;
}

export interface HostChangeListenerOptions {
  url: string;
  applicationName: string;
  /** The channel listened on: HOST_CHANGES_CHANNEL unless told (the account cache's is `mydns_accounts`). */
  channel?: string;
  logger: Logger;
  /** `name`: the host's full name, `label.zone`. */
  onChange: (name: string) => void;
  /**
   * Called when listening starts and whenever it stops: in both cases a cache
   * must forget everything, since notifications may have been missed.
   */
  onGap: () => void;
}

export function listenForHostChanges(options: HostChangeListenerOptions): HostChangeListener {
  let listener: pg.Client | undefined;
  let listening = false;
  let stopped = false;
  let retryMs = 1000;
  let retryTimer: NodeJS.Timeout | undefined;
  const channel = options.channel ?? HOST_CHANGES_CHANNEL;

  const connect = async (): Promise<void> => {
    const client = new pg.Client({
      connectionString: options.url,
      application_name: options.applicationName,
    });
    client.on('notification', (message) => {
      if (message.channel === channel && message.payload) options.onChange(message.payload);
    });
    const lost = (reason: string) => {
      if (listener !== client) return;
      listener = undefined;
      listening = false;
      options.onGap();
      client.end().catch(() => undefined);
      if (stopped) return;
      options.logger.warn(`lost the ${channel} notifications (${reason}); reconnecting in ${retryMs} ms`);
      retryTimer = setTimeout(() => void connect().catch(() => undefined), retryMs);
      retryTimer.unref();
      retryMs = Math.min(retryMs * 2, 30_000);
    };
    client.on('error', (error) => lost(error.message));
    client.on('end', () => lost('connection closed'));
    listener = client;
    try {
      await client.connect();
      await client.query(`listen ${channel}`);
    } catch (error) {
      lost(errorMessage(error));
      throw error;
    }
    options.onGap();
    listening = true;
    retryMs = 1000;
  };

  return {
    start: connect,
    async stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      listening = false;
      const client = listener;
      listener = undefined;
      await client?.end().catch(() => undefined);
    },
    get listening() {
      return listening;
    },
  };
}

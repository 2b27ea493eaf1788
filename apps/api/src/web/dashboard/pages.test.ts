import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HistoryView, HostView } from '../../hosts/hosts-service.ts';
import { buildSetups } from '../setups.ts';
import { historyPage } from './history-page.ts';
import { mailPage } from './mail-page.ts';
import { overviewPage } from './overview-page.ts';
import { settingsPage } from './settings-page.ts';
import { setupsPage } from './setups-page.ts';
import { revokeTokenPage, tokensPage } from './tokens-page.ts';

const EVIL = '"><img src=x onerror=alert(1)>';
const NOW = new Date('2026-12-01T12:00:00Z');
const HOST: HostView = {
  hostname: 'alice.dyn.example.net',
  name: 'alice',
  zone: 'dyn.example.net',
  ipv4: '198.51.100.7',
  ipv6: null,
  ipv6Prefix: null,
  wildcard: false,
  status: 'active',
  createdAt: '2026-11-30T12:00:00Z',
  updatedAt: '2026-12-01T11:00:00Z',
  lastSeenAt: '2026-12-01T11:55:00Z',
  mail: { enabled: false, port: null, clientAddress: 'xclient', tls: 'opportunistic', fingerprint: null },
};
const ENTRY: HistoryView = {
  at: '2026-12-01T11:55:00Z',
  count: 1,
  lastAt: null,
  sourceAddress: '198.51.100.7',
  userAgent: EVIL.repeat(3),
  result: 'good',
  reason: null,
  old: { ipv4: null, ipv6: null },
  new: { ipv4: '198.51.100.7', ipv6: null },
};
const TOKEN = { id: 7, label: EVIL, createdAt: '2026-12-01T11:00:00Z', lastUsedAt: null };

test('what people typed is escaped on every dashboard page, attributes included', () => {
  const pages = {
    overview: overviewPage({ host: HOST, inactivityDays: 30, tokenCount: 1, latest: ENTRY, now: NOW }),
    setups: setupsPage({
      hostname: HOST.hostname,
      csrf: 'c',
      setups: buildSetups({
        baseUrl: 'https://dyn.example.net',
        hostname: HOST.hostname,
        secret: 'YOUR_TOKEN',
      }),
      newToken: { label: EVIL, token: 'mydns_x' },
    }),
    tokens: tokensPage({
      hostname: HOST.hostname,
      csrf: 'c',
      tokens: [TOKEN],
      create: { values: { label: EVIL }, problem: { text: EVIL, field: 'token-label' } },
      now: NOW,
    }),
    revoke: revokeTokenPage(HOST.hostname, 'c', TOKEN),
    history: historyPage({ hostname: HOST.hostname, history: [ENTRY], now: NOW }),
    mail: mailPage({
      host: HOST,
      csrf: 'c',
      zone: 'dyn.example.net',
      publishedMx: undefined,
      relayAddresses: [],
      form: {
        values: { port: EVIL, fingerprint: EVIL, enabled: 'on' },
        problem: { text: EVIL, field: 'mail-port' },
      },
    }),
    settings: settingsPage({
      hostname: HOST.hostname,
      label: 'alice',
      csrf: 'c',
      deletion: { values: { confirm: EVIL }, problem: { text: EVIL } },
      webhook: {
        csrf: 'c',
        url: `https://hooks.example.com/${EVIL}`,
        last: { event: 'dormant', at: NOW, status: 'queued', httpStatus: null, error: EVIL },
        newSecret: EVIL,
        form: { values: { url: EVIL }, problem: { text: EVIL } },
        now: NOW,
      },
    }),
  };
  for (const [name, page] of Object.entries(pages)) {
    assert.ok(!page.value.includes('<img'), `${name}: no markup from input`);
    assert.ok(!/="[^"]*"><img/.test(page.value), `${name}: no attribute broken out of`);
    const current = [...page.value.matchAll(/aria-current="page">([^<]+)</g)].map((m) => m[1]);
    assert.equal(current.length, 1, `${name}: one current tab`);
  }
  assert.match(pages.tokens.value, /data-confirm="Revoke the token “&quot;&gt;&lt;img/);
});

test('a long user agent is cut, whole in its title; a short one is shown as it is', () => {
  const page = historyPage({
    hostname: HOST.hostname,
    history: [ENTRY, { ...ENTRY, userAgent: 'curl/8.5.0', result: 'badauth', reason: EVIL }],
    now: NOW,
  }).value;
  assert.match(
    page,
    /<code>badauth<\/code><span class="reason">&quot;&gt;&lt;img/,
    'why it was refused, escaped',
  );
  assert.match(page, /<details class="agent"><summary title="(&quot;&gt;&lt;img[^"]+)">[^<]+…<\/summary>/);
  assert.match(page, /<div>curl\/8\.5\.0<\/div>/);
});

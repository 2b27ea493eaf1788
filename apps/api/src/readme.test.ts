import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { RELAY_SETTING_NAMES } from '@mydns/smtp-relay';
import { USAGE } from './cli/args.ts';
import { API_SETTING_NAMES } from './config.ts';
import { ERROR_STATUS } from './errors.ts';
import { COMPOSE_SETTING_NAMES, KNOWN_SETTING_NAMES, LIBPQ_SETTING_NAMES } from './known-settings.ts';

/**
 * README.md is where people look up settings and commands, docs/interfaces.md
 * the error codes: these keep them true to the code. A setting added to a
 * schema, a command added to the CLI or a code added to the catalog fails here
 * until the documentation says what it is.
 */

const root = join(import.meta.dirname, '../../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The text under `heading` up to the next heading of the same or a higher level. */
function section(heading: string): string {
  const level = /^#+/.exec(heading)?.[0].length ?? 2;
  const lines = readme.split('\n');
  const start = lines.indexOf(heading);
  assert.notEqual(start, -1, `README.md has no "${heading}"`);
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((line) => new RegExp(`^#{1,${level}} `).test(line));
  return (end === -1 ? rest : rest.slice(0, end)).join('\n');
}

/** Setting names in the first column of the markdown tables of `text` (`A` / `B` rows name several). */
function tableSettings(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const first = /^\|([^|]*)\|/.exec(line)?.[1] ?? '';
    for (const match of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(match[1] ?? '');
  }
  return names;
}

const documented = new Set([
  ...tableSettings(section('## Settings')),
  ...tableSettings(section('### For operators')),
  ...tableSettings(section('## Mail')),
]);

describe('README.md documents every setting', () => {
  for (const [app, names] of [
    ['the API', API_SETTING_NAMES],
    ['the relay', RELAY_SETTING_NAMES],
  ] as const) {
    test(`every setting ${app} reads is in a settings table`, () => {
      assert.deepEqual(
        names.filter((name) => !documented.has(name)),
        [],
        `missing from README.md's tables ("Settings", the relay's under "For operators", or "Mail")`,
      );
    });
  }

  test('every setting in the tables is one the code reads', () => {
    const read = new Set([...API_SETTING_NAMES, ...RELAY_SETTING_NAMES, ...LIBPQ_SETTING_NAMES]);
    assert.deepEqual(
      [...documented].filter((name) => !read.has(name)),
      [],
    );
  });

  test('.env.example names only known settings', () => {
    const example = readFileSync(join(root, '.env.example'), 'utf8');
    const names = [...example.matchAll(/^#? ?([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1] ?? '');
    assert.ok(names.length > 20, 'the settings of .env.example were found');
    assert.deepEqual(
      names.filter((name) => !KNOWN_SETTING_NAMES.includes(name)),
      [],
    );
  });

  test('what docker-compose.yml reads from .env is known, so npm start does not call it a typo', () => {
    const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    const names = new Set([...compose.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((match) => match[1] ?? ''));
    assert.ok(names.size > 5, 'the variables of docker-compose.yml were found');
    assert.deepEqual(
      [...names].filter((name) => !KNOWN_SETTING_NAMES.includes(name)),
      [],
    );
    const composeOnly = new Set<string>(COMPOSE_SETTING_NAMES);
    assert.deepEqual(
      [...composeOnly].filter((name) => !names.has(name)),
      [],
      'COMPOSE_SETTING_NAMES lists a variable docker-compose.yml no longer reads',
    );
  });
});

describe('README.md documents every CLI command', () => {
  // The usage lines that start a command: two spaces, then its words up to the first argument.
  const commands = [...USAGE.matchAll(/^ {2}([a-z]+(?: [a-z]+)?)(?= |$)/gm)].map((match) => match[1] ?? '');

  test('the usage text was read', () => {
    assert.ok(commands.includes('host create') && commands.includes('migrate'), commands.join(', '));
  });

  test('each command of the usage text is in "Operator CLI"', () => {
    const cli = section('## Operator CLI');
    assert.deepEqual(
      commands.filter((command) => !cli.includes(`\`${command}`)),
      [],
    );
  });
});

describe('docs/interfaces.md lists every error code with its status', () => {
  const interfaces = readFileSync(join(root, 'docs/interfaces.md'), 'utf8');
  const errors = interfaces.slice(interfaces.indexOf('## Errors'));
  const listed = new Map<string, number>();
  for (const line of errors.split('\n')) {
    const status = Number(/^\| (\d{3}) +\|/.exec(line)?.[1]);
    if (!status) continue;
    for (const match of line.matchAll(/`([a-z_]+)`/g)) listed.set(match[1] ?? '', status);
  }

  test('each code of the catalog, under its status', () => {
    assert.deepEqual(
      Object.entries(ERROR_STATUS).filter(([code, status]) => listed.get(code) !== status),
      [],
    );
  });

  test('and no code the catalog does not have', () => {
    assert.deepEqual(
      [...listed.keys()].filter((code) => !(code in ERROR_STATUS)),
      [],
    );
  });
});

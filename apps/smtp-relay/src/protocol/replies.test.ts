import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_REPLY_LIMITS, enhancedStatus, formatReply, parseReply } from '@mydns/smtp-client';
import { replies } from './replies.ts';

describe("the relay's own replies", () => {
  // Every reply with arguments is built with sample values; what a client parses must be what we meant.
  const samples = Object.entries(replies).map(([name, make]) => {
    const build = make as (...args: string[]) => ReturnType<typeof replies.ok>;
    return [name, build('relay.example', 'bob@home.example', 'home.example')] as const;
  });

  test('each one parses back as a single well-formed reply', () => {
    for (const [name, r] of samples) {
      const wire = Buffer.from(formatReply(r));
      const parsed = parseReply(wire, DEFAULT_REPLY_LIMITS);
      assert.ok(parsed.kind === 'reply', name);
      if (parsed.kind !== 'reply') continue;
      assert.equal(parsed.consumed, wire.length, name);
      assert.equal(parsed.reply.code, r.code, name);
    }
  });

  test('an enhanced status code, where there is one, has the class of the reply code (RFC 3463)', () => {
    for (const [name, r] of samples) {
      const text = r.lines[0] ?? '';
      if (!/^[0-9]\.[0-9]/.test(text)) continue;
      assert.ok(enhancedStatus(r), `${name}: ${r.code} ${text}`);
    }
  });

  test('every failure of the backend is temporary: the sender keeps the mail', () => {
    for (const name of [
      'backendRefused',
      'backendBroken',
      'lookupFailed',
      'unroutable',
      'congestion',
      'loop',
    ])
      assert.equal(Math.floor((samples.find(([n]) => n === name)?.[1].code ?? 0) / 100), 4, name);
  });
});

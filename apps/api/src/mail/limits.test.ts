import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseIpAddress } from '@mydns/domain';
import { createMailLimits } from './limits.ts';

const ip = (text: string) => {
  const address = parseIpAddress(text);
  assert.ok(address, text);
  return address;
};

function limits(now: () => number = () => 0) {
  const refused: string[] = [];
  const mail = createMailLimits({
    recipient: { count: 3, windowMs: 3_600_000 },
    source: { count: 5, windowMs: 3_600_000 },
    ipv6Prefix: 64,
    now,
    onLimited: (scope) => refused.push(scope),
  });
  return { mail, refused };
}

describe('mail limits', () => {
  test('per recipient: from many sources, the 4th mail within the window is refused', () => {
    const { mail, refused } = limits();
    const verdicts = ['192.0.2.1', '192.0.2.2', '198.51.100.7', '203.0.113.9'].map((source) =>
      mail.allow({ recipient: 'alice@example.org', source: ip(source) }),
    );
    assert.deepEqual(
      verdicts.map((v) => v.allowed),
      [true, true, true, false],
    );
    assert.deepEqual(verdicts[3], { allowed: false, scope: 'recipient' });
    assert.ok(
      mail.allow({ recipient: 'bob@example.org', source: ip('203.0.113.9') }).allowed,
      'others still get mail',
    );
    assert.deepEqual(mail.allow({ recipient: 'ALICE@Example.org', source: ip('192.0.2.3') }), {
      allowed: false,
      scope: 'recipient',
    });
    assert.deepEqual(refused, ['recipient', 'recipient']);
  });

  test('per source: one IPv4 address, or one IPv6 /64 whatever address in it', () => {
    const { mail } = limits();
    for (let i = 0; i < 5; i++)
      assert.ok(mail.allow({ recipient: `u${i}@example.org`, source: ip(`2001:db8:1:2::${i + 1}`) }).allowed);
    assert.deepEqual(mail.allow({ recipient: 'u9@example.org', source: ip('2001:db8:1:2:ffff::9') }), {
      allowed: false,
      scope: 'source',
    });
    assert.ok(
      mail.allow({ recipient: 'u9@example.org', source: ip('2001:db8:1:3::1') }).allowed,
      'another /64',
    );
    for (let i = 0; i < 5; i++) mail.allow({ recipient: `v${i}@example.org`, source: ip('192.0.2.50') });
    assert.equal(mail.allow({ recipient: 'w@example.org', source: ip('192.0.2.50') }).allowed, false);
    assert.ok(mail.allow({ recipient: 'w@example.org', source: ip('192.0.2.51') }).allowed);
  });

  test("a source over its limit does not use up the recipient's allowance", () => {
    const { mail } = limits();
    for (let i = 0; i < 5; i++) mail.allow({ recipient: `x${i}@example.org`, source: ip('192.0.2.9') });
    for (let i = 0; i < 10; i++)
      assert.equal(mail.allow({ recipient: 'carol@example.org', source: ip('192.0.2.9') }).allowed, false);
    assert.ok(mail.allow({ recipient: 'carol@example.org', source: ip('192.0.2.10') }).allowed);
  });

  test('the window ends', () => {
    let now = 0;
    const { mail } = limits(() => now);
    for (let i = 0; i < 3; i++) mail.allow({ recipient: 'dave@example.org', source: ip(`192.0.2.${i + 1}`) });
    assert.equal(mail.allow({ recipient: 'dave@example.org', source: ip('192.0.2.20') }).allowed, false);
    now = 3_600_000;
    assert.ok(mail.allow({ recipient: 'dave@example.org', source: ip('192.0.2.20') }).allowed);
  });
});

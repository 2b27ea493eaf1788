import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normaliseAddress, parseMailbox, recipientForLog, redactAddresses } from './addresses.ts';

describe('normaliseAddress', () => {
  test('addresses we send to, in their ASCII form', () => {
    const cases: [string, string][] = [
      ['alice@example.org', 'alice@example.org'],
      ['  Alice.Smith+dyn@Example.ORG ', 'Alice.Smith+dyn@example.org'],
      ["o'brien@example.ie", "o'brien@example.ie"],
      ['u@bücher.example', 'u@xn--bcher-kva.example'],
      ['u@ｅｘａｍｐｌｅ．org', 'u@example.org'],
      ['x@mail.sub.example.co.uk', 'x@mail.sub.example.co.uk'],
    ];
    for (const [input, expected] of cases) assert.equal(normaliseAddress(input), expected, input);
  });

  test('what is refused', () => {
    const refused = [
      '',
      'alice',
      '@example.org',
      'alice@',
      'alice@localhost',
      'alice@@example.org',
      'al ice@example.org',
      '"al ice"@example.org',
      '.alice@example.org',
      'alice.@example.org',
      'al..ice@example.org',
      'jörg@example.org',
      'alice@exa mple.org',
      'alice@-example.org',
      'alice@example.org\r\nBcc: eve@example.net',
      'alice@[127.0.0.1]',
      `${'a'.repeat(65)}@example.org`,
      `a@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(60)}.${'f'.repeat(10)}.org`,
    ];
    for (const input of refused) assert.equal(normaliseAddress(input), undefined, JSON.stringify(input));
  });
});

describe('parseMailbox', () => {
  test('name and address, quoted names, bare addresses', () => {
    assert.deepEqual(parseMailbox('MyDNS <no-reply@dyn.example.net>'), {
      name: 'MyDNS',
      address: 'no-reply@dyn.example.net',
    });
    assert.deepEqual(parseMailbox('"Dyn, \\"Inc.\\"" <a@b.example>'), {
      name: 'Dyn, "Inc."',
      address: 'a@b.example',
    });
    assert.deepEqual(parseMailbox('Bücher Dienst <info@bücher.example>'), {
      name: 'Bücher Dienst',
      address: 'info@xn--bcher-kva.example',
    });
    assert.deepEqual(parseMailbox('<a@b.example>'), { name: undefined, address: 'a@b.example' });
    assert.deepEqual(parseMailbox('a@b.example'), { name: undefined, address: 'a@b.example' });
  });

  test('refused: no address, two addresses, line breaks', () => {
    for (const input of ['MyDNS', 'MyDNS <>', 'A <a@b.example> <c@d.example>', 'A\r\nBcc: x <a@b.example>'])
      assert.equal(parseMailbox(input), undefined, input);
  });
});

describe('what logs may say', () => {
  test('recipientForLog: the domain and a stable hash, never the address', () => {
    const one = recipientForLog('Alice@example.org');
    assert.equal(one.domain, 'example.org');
    assert.deepEqual(recipientForLog('alice@example.org'), one);
    assert.notEqual(recipientForLog('bob@example.org').recipient, one.recipient);
    assert.ok(!JSON.stringify(one).includes('alice'));
  });

  test('redactAddresses: replies that quote a recipient keep only its domain', () => {
    assert.equal(
      redactAddresses('550 5.1.1 <bob.smith@example.org>: Recipient address rejected'),
      '550 5.1.1 <…@example.org>: Recipient address rejected',
    );
    assert.equal(
      redactAddresses('554 5.7.1 bob@example.org, eve@x.example'),
      '554 5.7.1 …@example.org, …@x.example',
    );
    assert.equal(redactAddresses('451 4.3.0 try again'), '451 4.3.0 try again');
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMailLinks } from './links.ts';
import { MailInputError } from './message.ts';

describe('mail links', () => {
  const links = createMailLinks('https://dyn.example.net/');

  test('link: the public URL, the page, the parameters encoded', () => {
    assert.equal(links.base, 'https://dyn.example.net');
    assert.equal(
      links.link('account/verify', { token: 'Ab-_09' }),
      'https://dyn.example.net/account/verify?token=Ab-_09',
    );
    assert.equal(links.link('account'), 'https://dyn.example.net/account');
    assert.equal(
      links.link('reset', { token: 'a b&c=d', email: 'x@y.example' }),
      'https://dyn.example.net/reset?token=a+b%26c%3Dd&email=x%40y.example',
    );
  });

  test('link: a page must be a path of this site', () => {
    for (const page of [
      '//evil.example/x',
      'https://evil.example',
      '../admin',
      'a/../b',
      'a?x=1',
      '',
      '/abs',
    ])
      assert.throws(() => links.link(page), MailInputError, page);
  });

  test('foreign: links that do not start with the public URL', () => {
    const ours = `Open ${links.link('verify', { token: 't' })} or https://dyn.example.net (home).`;
    assert.deepEqual(links.foreign(ours), []);
    assert.deepEqual(
      links.foreign(
        '<a href="https://dyn.example.net.evil.example/verify?token=t">x</a> http://dyn.example.net/x ' +
          'https://dyn.example.netx/ ftp://files.example/ https://dyn.example.net@evil.example/',
      ),
      [
        'https://dyn.example.net.evil.example/verify?token=t',
        'http://dyn.example.net/x',
        'https://dyn.example.netx/',
        'ftp://files.example/',
        'https://dyn.example.net@evil.example/',
      ],
    );
  });
});

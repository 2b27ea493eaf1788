import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWebPath } from './web-paths.ts';

test('people get pages, machines get their protocol', () => {
  for (const path of [
    '/',
    '/dashbord',
    '/dashboard/tokens',
    '/favicon.ico',
    '/static/x.css',
    '/apis',
    '/updates',
    '/nicer',
  ]) {
    assert.equal(isWebPath(path), true, path);
  }
  for (const path of [
    '/api',
    '/api/v1/nothing',
    '/API/V1/HOSTS/alice',
    '/nic/update',
    '/nic/update;jsessionid=x',
    '/v3/update',
    '/update',
    '/update/',
    '/u.php',
    '/u.php%zz',
    '/checkip',
    '/CHECKIP/',
    '/healthz',
    '/readyz',
    '/metrics',
  ]) {
    assert.equal(isWebPath(path), false, path);
  }
});

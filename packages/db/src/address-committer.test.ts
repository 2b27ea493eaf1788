import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAddressChangeError, roundsOf } from './address-changes.ts';
import { createAddressCommitter, type PendingChange } from './address-committer.ts';
import type { AddressChange, FamilyChange } from './hosts-repository.ts';

/**
 * The committer with a fake executor: each `commit` call is held until the
 * test settles it, so what arrives meanwhile is seen to wait and to go out
 * together, in order.
 */

const set = (address: string): FamilyChange => ({ keep: false, address });
const keep: FamilyChange = { keep: true };

interface Call {
  readonly changes: readonly PendingChange[];
  succeed(): void;
  fail(error: unknown): void;
}

/** An executor whose commits wait for the test; `result` says what a committed change returns. */
function fakeExecutor(
  result = (change: PendingChange, i: number): AddressChange | undefined => changed(change, i),
) {
  const calls: Call[] = [];
  const commit = (changes: readonly PendingChange[]) =>
    new Promise<readonly (AddressChange | undefined)[]>((resolve, reject) => {
      calls.push({ changes, succeed: () => resolve(changes.map(result)), fail: reject });
    });
  /** The n-th commit call (0-based), once the committer has made it. */
  const call = async (n: number): Promise<Call> => {
    for (let turn = 0; turn < 1000 && !calls[n]; turn++) await new Promise(setImmediate);
    const made = calls[n];
    if (!made) throw new Error(`commit ${n} was never made (${calls.length} were)`);
    return made;
  };
  return { calls, commit, call };
}

const changed = (change: PendingChange, i: number): AddressChange => ({
  oldIpv4: null,
  oldIpv6: null,
  oldIpv6Prefix: null,
  ipv6Prefix: null,
  ipv4: change.v4.keep ? null : change.v4.address,
  ipv6: change.v6.keep ? null : change.v6.address,
  outboxId: 100 + i,
});

const ids = (call: Call) => call.changes.map((change) => change.id);
const constraint = Object.assign(new Error('violates check constraint "hosts_ipv4_family"'), {
  code: '23514',
});
const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('createAddressCommitter', () => {
  test('a change alone is committed at once, by itself', async () => {
    const executor = fakeExecutor();
    const committer = createAddressCommitter({
      commit: executor.commit,
      isChangeError: isAddressChangeError,
    });
    const applied = committer.apply(1, set('192.0.2.1'), keep);
    const first = await executor.call(0);
    assert.deepEqual(first.changes, [{ id: 1, v4: set('192.0.2.1'), v6: keep }]);
    first.succeed();
    assert.deepEqual(await applied, changed({ id: 1, v4: set('192.0.2.1'), v6: keep }, 0));
    assert.equal(executor.calls.length, 1);
  });

  test('changes that arrive while a commit is in flight go out together in the next one, in arrival order', async () => {
    const executor = fakeExecutor();
    const committer = createAddressCommitter({
      commit: executor.commit,
      isChangeError: isAddressChangeError,
    });
    const first = committer.apply(1, set('192.0.2.1'), keep);
    const inFlight = await executor.call(0);
    const later = [5, 3, 9, 3].map((id, i) => committer.apply(id, set(`192.0.2.${10 + i}`), keep));
    assert.deepEqual(committer.stats(), { waiting: 4, committing: 1 });
    assert.equal(executor.calls.length, 1, 'nothing else is sent while a commit is in flight');
    inFlight.succeed();
    await first;
    const group = await executor.call(1);
    assert.deepEqual(ids(group), [5, 3, 9, 3], 'one group, in arrival order (repeats included)');
    assert.deepEqual(committer.stats(), { waiting: 0, committing: 4 });
    group.succeed();
    const results = await Promise.all(later);
    assert.deepEqual(
      results.map((r) => [r?.ipv4, r?.outboxId]),
      [
        ['192.0.2.10', 100],
        ['192.0.2.11', 101],
        ['192.0.2.12', 102],
        ['192.0.2.13', 103],
      ],
      'each caller gets its own change’s result',
    );
    assert.equal(executor.calls.length, 2);
  });

  test('“nothing to change” is answered to its own caller only', async () => {
    const executor = fakeExecutor((change, i) => (change.id === 2 ? undefined : changed(change, i)));
    const committer = createAddressCommitter({
      commit: executor.commit,
      isChangeError: isAddressChangeError,
    });
    const first = committer.apply(1, set('192.0.2.1'), keep);
    const inFlight = await executor.call(0);
    const group = [2, 3].map((id) => committer.apply(id, set('192.0.2.2'), keep));
    inFlight.succeed();
    await first;
    (await executor.call(1)).succeed();
    const [two, three] = await Promise.all(group);
    assert.equal(two, undefined);
    assert.equal(three?.ipv4, '192.0.2.2');
  });

  test('a group is at most maxGroup changes; the rest go in the next one', async () => {
    const executor = fakeExecutor();
    const committer = createAddressCommitter({
      commit: executor.commit,
      isChangeError: isAddressChangeError,
      maxGroup: 3,
    });
    const first = committer.apply(1, keep, set('2001:db8::1'));
    const inFlight = await executor.call(0);
    const later = [2, 3, 4, 5, 6, 7, 8].map((id) => committer.apply(id, keep, set('2001:db8::1')));
    inFlight.succeed();
    for (const [n, expected] of [
      [1, [2, 3, 4]],
      [2, [5, 6, 7]],
      [3, [8]],
    ] as const) {
      const call = await executor.call(n);
      assert.deepEqual(ids(call), expected);
      call.succeed();
    }
    await Promise.all([first, ...later]);
  });

  test('a group that fails as a whole (Postgres down) fails every caller in it; the next group goes on', async () => {
    const executor = fakeExecutor();
    const groups: number[] = [];
    const committer = createAddressCommitter({
      commit: executor.commit,
      isChangeError: isAddressChangeError,
      onGroup: (changes) => groups.push(changes),
    });
    const first = committer.apply(1, set('192.0.2.1'), keep);
    const inFlight = await executor.call(0);
    const failing = [2, 3, 4].map((id) => committer.apply(id, set('192.0.2.1'), keep));
    inFlight.succeed();
    await first;
    const group = await executor.call(1);
    const after = committer.apply(5, set('192.0.2.5'), keep);
    group.fail(down);
    for (const result of await Promise.allSettled(failing))
      assert.deepEqual(result, { status: 'rejected', reason: down }, 'the group’s own error, for each');
    assert.equal(executor.calls.length, 3, 'no change is tried alone after a connection failure');
    const next = await executor.call(2);
    assert.deepEqual(ids(next), [5]);
    next.succeed();
    assert.equal((await after)?.ipv4, '192.0.2.5');
    assert.deepEqual(groups, [1, 3, 1]);
  });

  test('a failure that may be one change’s own: each change is tried alone, in order, and only that one fails', async () => {
    const executor = fakeExecutor();
    const committer = createAddressCommitter({
      commit: executor.commit,
      isChangeError: isAddressChangeError,
    });
    const first = committer.apply(1, set('192.0.2.1'), keep);
    const inFlight = await executor.call(0);
    const group = Promise.allSettled(
      [2, 3, 2, 4].map((id, i) => committer.apply(id, set(`192.0.2.${20 + i}`), keep)),
    );
    inFlight.succeed();
    await first;
    (await executor.call(1)).fail(constraint);
    const alone: number[][] = [];
    for (let n = 2; n < 6; n++) {
      const call = await executor.call(n);
      alone.push(ids(call));
      if (call.changes[0]?.id === 3) call.fail(constraint);
      else call.succeed();
    }
    assert.deepEqual(alone, [[2], [3], [2], [4]], 'one at a time, in arrival order');
    const settled = await group;
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.deepEqual(settled[1], { status: 'rejected', reason: constraint });
  });

  test('a change alone that fails is not tried again', async () => {
    const executor = fakeExecutor();
    const committer = createAddressCommitter({
      commit: executor.commit,
      isChangeError: isAddressChangeError,
    });
    const applied = committer.apply(1, set('192.0.2.1'), keep);
    (await executor.call(0)).fail(constraint);
    await assert.rejects(applied, constraint);
    assert.equal(executor.calls.length, 1);
  });

  test('a metrics hook that throws neither fails a commit nor stops the committer', async () => {
    const executor = fakeExecutor();
    const committer = createAddressCommitter({
      commit: executor.commit,
      isChangeError: isAddressChangeError,
      onGroup: () => {
        throw new Error('metrics broke');
      },
    });
    const one = committer.apply(1, set('192.0.2.1'), keep);
    (await executor.call(0)).succeed();
    assert.equal((await one)?.ipv4, '192.0.2.1');
    const two = committer.apply(2, set('192.0.2.2'), keep);
    (await executor.call(1)).succeed();
    assert.equal((await two)?.ipv4, '192.0.2.2');
  });
});

describe('roundsOf', () => {
  const change = (id: number): PendingChange => ({ id, v4: set(`192.0.2.${id}`), v6: keep });
  const shape = (changes: PendingChange[]) =>
    roundsOf(changes).map((round) => round.map((member) => `${member.change.id}@${member.index}`));

  for (const [name, input, expected] of [
    ['no repeats: one round, in order', [3, 1, 2], [['3@0', '1@1', '2@2']]],
    ['a host twice: its second change in round 2', [1, 2, 1, 3], [['1@0', '2@1', '3@3'], ['1@2']]],
    [
      'one host four times: four rounds, in arrival order',
      [7, 7, 7, 7],
      [['7@0'], ['7@1'], ['7@2'], ['7@3']],
    ],
    ['two hosts repeated, interleaved', [1, 2, 2, 1, 2], [['1@0', '2@1'], ['2@2', '1@3'], ['2@4']]],
  ] as const) {
    test(name, () => {
      assert.deepEqual(shape(input.map(change)), expected);
    });
  }
});

describe('isAddressChangeError', () => {
  for (const [code, expected] of [
    ['23514', true], // check_violation (an IPv6 address as ipv4)
    ['22P02', true], // invalid_text_representation (not an address)
    ['23505', true], // unique_violation
    ['08006', false], // connection_failure
    ['57P01', false], // admin_shutdown (restart, pg_terminate_backend)
    ['57014', false], // query_canceled (statement_timeout)
    ['53300', false], // too_many_connections
    ['40P01', false], // deadlock_detected
    ['ECONNREFUSED', false],
    [undefined, false], // pg's own "Query read timeout"
  ] as const) {
    test(`${code ?? 'no code'}: ${expected ? 'maybe one change’s' : 'the whole group’s'}`, () => {
      assert.equal(isAddressChangeError(Object.assign(new Error('x'), { code })), expected);
    });
  }
});

// What a schedule's status is derived from: its children, what it handled, where a catch-up looks.
import assert from 'node:assert/strict';
import {
  activeChildren,
  childOutcomes,
  childrenOf,
  handledUpTo,
  lookBackFrom,
  mayCatchUp,
  type StoredSchedule,
} from '../../../runner/schedules/schedule-state.js';

function schedule(status: Record<string, unknown> = {}, spec: Record<string, unknown> = {}): StoredSchedule {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'ScheduledBackup',
    metadata: { name: 'nightly', namespace: 'shop', uid: 'u1', creationTimestamp: '2026-12-01T00:00:00Z' },
    spec: { schedule: '0 3 * * *', backupTemplate: { cluster: { name: 'db' } }, ...spec },
    status,
  } as StoredSchedule;
}

function child(name: string, phase: string | undefined, stoppedAt?: string, owner = 'u1'): object {
  return {
    metadata: { name, namespace: 'shop', ownerReferences: [{ kind: 'ScheduledBackup', name: 'nightly', uid: owner }] },
    spec: { cluster: { name: 'db' } },
    status: { ...(phase ? { phase } : {}), ...(stoppedAt ? { stoppedAt } : {}) },
  };
}

const at = (iso: string): Date => new Date(iso);

describe('schedule state', () => {
  it('children are the Backups owned by this schedule’s uid (a re-created schedule starts afresh)', () => {
    const all = [
      child('a', 'completed'),
      child('b', 'failed', undefined, 'old-uid'),
      { metadata: { name: 'git', namespace: 'shop' } },
    ];
    assert.deepEqual(
      childrenOf(schedule(), all).map((b) => b.metadata.name),
      ['a'],
    );
  });

  it('active children are those not completed or failed; outcomes are the newest of each by stoppedAt', () => {
    const kids = childrenOf(schedule(), [
      child('old-ok', 'completed', '2026-12-01T03:05:00Z'),
      child('new-ok', 'completed', '2026-12-02T03:05:00Z'),
      child('bad', 'failed', '2026-12-01T04:00:00Z'),
      child('running', 'running'),
      child('fresh', undefined),
    ]);
    assert.deepEqual(
      activeChildren(kids).map((b) => b.metadata.name),
      ['running', 'fresh'],
    );
    assert.deepEqual(childOutcomes(kids), { lastSuccessfulBackup: 'new-ok', lastFailedBackup: 'bad' });
  });

  it('handledUpTo: the newest of lastScheduleTime, lastSkippedTime and the creation', () => {
    assert.deepEqual(handledUpTo(schedule()), at('2026-12-01T00:00:00Z'));
    assert.deepEqual(
      handledUpTo(schedule({ lastScheduleTime: '2026-12-02T03:00:00Z', lastSkippedTime: '2026-12-03T03:00:00Z' })),
      at('2026-12-03T03:00:00Z'),
    );
  });

  it('mayCatchUp: within startingDeadlineSeconds; always without one; never with 0', () => {
    const tick = at('2026-12-03T03:00:00Z');
    assert.equal(mayCatchUp(schedule(), tick, at('2026-12-10T00:00:00Z')), true);
    assert.equal(mayCatchUp(schedule({}, { startingDeadlineSeconds: 600 }), tick, at('2026-12-03T03:10:00Z')), true);
    assert.equal(mayCatchUp(schedule({}, { startingDeadlineSeconds: 600 }), tick, at('2026-12-03T03:10:01Z')), false);
    assert.equal(mayCatchUp(schedule({}, { startingDeadlineSeconds: 0 }), tick, at('2026-12-03T03:00:01Z')), false);
  });

  it('lookBackFrom: nothing missed while nextScheduleTime is ahead; from it when it passed; not for ticks while suspended', () => {
    const now = at('2026-12-03T10:00:00Z');
    const after = at('2026-12-02T03:00:00Z');
    assert.equal(lookBackFrom(schedule({ nextScheduleTime: '2026-12-04T03:00:00Z' }), after, now), undefined);
    assert.deepEqual(
      lookBackFrom(schedule({ nextScheduleTime: '2026-12-03T03:00:00Z' }), after, now),
      new Date(Date.parse('2026-12-03T03:00:00Z') - 1),
    );
    const suspended = {
      conditions: [
        { type: 'Ready', status: 'False', reason: 'ScheduleSuspended', message: '', lastTransitionTime: '' },
      ],
    };
    assert.equal(lookBackFrom(schedule(suspended), after, now), undefined);
    // No nextScheduleTime (status lost): back to the deadline, at most a day, never before `after`.
    assert.deepEqual(
      lookBackFrom(schedule({}, { startingDeadlineSeconds: 60 }), after, now),
      at('2026-12-03T09:59:00Z'),
    );
    assert.deepEqual(lookBackFrom(schedule(), at('2026-12-03T09:00:00Z'), now), at('2026-12-03T09:00:00Z'));
    assert.deepEqual(lookBackFrom(schedule(), at('2026-11-01T00:00:00Z'), now), at('2026-12-02T10:00:00Z'));
  });
});

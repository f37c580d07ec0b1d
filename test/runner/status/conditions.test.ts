// Condition reasons are unique CamelCase constants, distinct from the failure reasons; setCondition
// keeps lastTransitionTime unless the status flips.
import assert from 'node:assert/strict';
import { FAILURE_REASON_NAMES } from '../../../crds/failure-reasons.js';
import {
  CONDITION_TYPES,
  getCondition,
  REASONS,
  setCondition,
  type HasConditions,
} from '../../../runner/status/conditions.js';

describe('conditions', () => {
  it('every reason is CamelCase, equals its key, and is used once', () => {
    const values = Object.values(REASONS);
    assert.equal(new Set(values).size, values.length);
    for (const [key, value] of Object.entries(REASONS)) {
      assert.equal(value, key);
      assert.match(value, /^[A-Z][A-Za-z0-9]*$/);
    }
  });

  it('no reason is also a failure reason, so each reason means one thing', () => {
    const failures = new Set<string>(FAILURE_REASON_NAMES);
    assert.deepEqual(
      Object.values(REASONS).filter((r) => failures.has(r)),
      [],
    );
  });

  it('condition types are CamelCase and include Ready', () => {
    assert.equal(CONDITION_TYPES.Ready, 'Ready');
    for (const type of Object.values(CONDITION_TYPES)) assert.match(type, /^[A-Z][A-Za-z0-9]*$/);
  });

  it('setCondition adds, updates in place, and moves lastTransitionTime only when the status flips', () => {
    const holder: HasConditions = {};
    const t1 = new Date('2026-01-01T00:00:00Z');
    const t2 = new Date('2026-01-01T01:00:00Z');
    const t3 = new Date('2026-01-01T02:00:00Z');
    setCondition(holder, { type: 'Ready', status: 'False', reason: 'BackupRunning', message: 'claimed' }, t1);
    setCondition(holder, { type: 'Ready', status: 'False', reason: 'DumpFailed', message: 'exit 2' }, t2);
    assert.equal(getCondition(holder, 'Ready')?.lastTransitionTime, t1.toISOString());
    assert.equal(getCondition(holder, 'Ready')?.reason, 'DumpFailed');
    setCondition(holder, { type: 'Ready', status: 'True', reason: 'BackupCompleted', message: 'done' }, t3);
    assert.equal(getCondition(holder, 'Ready')?.lastTransitionTime, t3.toISOString());
    setCondition(holder, { type: 'WorkerRunning', status: 'True', reason: 'WorkerStarted', message: 'pid 1' }, t3);
    assert.deepEqual(
      holder.conditions?.map((c) => c.type),
      ['Ready', 'WorkerRunning'],
    );
  });
});

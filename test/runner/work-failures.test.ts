// Every failure surface of docs/design.md has exactly one error class, and every class a documented reason.
import assert from 'node:assert/strict';
import { FAILURE_REASON_NAMES } from '../../crds/failure-reasons.js';
import { DumpFailedError, WORK_FAILURES, WorkFailure } from '../../runner/work-failures.js';

describe('work failures', () => {
  it('one class per documented reason, and no class without one', () => {
    const reasons = WORK_FAILURES.map((Failure) => new Failure('x').reason);
    assert.deepEqual([...reasons].sort(), [...FAILURE_REASON_NAMES].sort());
  });

  it('carries its message, cause and class name, and is an Error', () => {
    const cause = new Error('exit 2');
    const err = new DumpFailedError('mariadb-dump exited 2: Access denied; grant SELECT', { cause });
    assert.ok(err instanceof WorkFailure && err instanceof Error);
    assert.equal(err.name, 'DumpFailedError');
    assert.equal(err.reason, 'DumpFailed');
    assert.equal(err.cause, cause);
    assert.equal(err.retryable, false);
  });
});

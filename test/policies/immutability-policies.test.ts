import assert from 'node:assert/strict';
import { firstDifference } from '../../policies/immutability-policies.js';
import { backup, cluster, policiesOf, reviewWith } from '../helpers.js';

function stored(phase: string | undefined, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...backup({ method: 'mariabackup', ...spec }), ...(phase ? { status: { phase } } : {}) };
}

describe('immutability policies (fake neighbours)', () => {
  it('finds the first differing field', () => {
    assert.equal(firstDifference({ a: 1 }, { a: 1 }), undefined);
    assert.deepEqual(firstDifference({ a: { b: [1, 2] } }, { a: { b: [1, 3] } }), ['a', 'b', 1]);
    assert.deepEqual(firstDifference({ a: 1 }, { a: 1, c: 2 }), ['c']);
  });

  for (const phase of ['running', 'completed', 'failed']) {
    it(`LB401 refuses a spec change of a ${phase} Backup, naming the field`, () => {
      const result = reviewWith(backup({ method: 'mariadb-dump' }), { old: stored(phase), objects: [cluster()] });
      assert.deepEqual(policiesOf(result), ['LB401']);
      assert.match(result.findings[0]?.message ?? '', new RegExp(`spec.method cannot change: this Backup is ${phase}`));
    });
  }

  it('LB401 allows changes while pending or without status, and metadata changes always', () => {
    assert.deepEqual(
      policiesOf(reviewWith(backup({ method: 'mariadb-dump' }), { old: stored('pending'), objects: [cluster()] })),
      [],
    );
    assert.deepEqual(
      policiesOf(reviewWith(backup({ method: 'mariadb-dump' }), { old: stored(undefined), objects: [cluster()] })),
      [],
    );
    const relabelled = backup({ method: 'mariabackup' }, { labels: { team: 'shop' } });
    assert.deepEqual(policiesOf(reviewWith(relabelled, { old: stored('completed'), objects: [cluster()] })), []);
  });
});

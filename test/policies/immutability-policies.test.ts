import assert from 'node:assert/strict';
import { firstDifference } from '../../policies/immutability-policies.js';
import { backup, cluster, policiesOf, reviewWith } from '../helpers.js';

function withPhase(doc: Record<string, unknown>, phase: string | undefined): Record<string, unknown> {
  return phase ? { ...doc, status: { phase } } : doc;
}

/** A stored Backup, and an update of it; the API server carries the stored status into updates. */
function storedBackup(phase: string | undefined): Record<string, unknown> {
  return withPhase(backup({ method: 'mariabackup' }), phase);
}

function restore(source: string, phase?: string): Record<string, unknown> {
  const doc = {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Restore',
    metadata: { name: 'r' },
    spec: { cluster: { name: 'shop' }, source },
  };
  return withPhase(doc, phase);
}

describe('immutability policies (fake neighbours)', () => {
  it('finds the first differing field', () => {
    assert.equal(firstDifference({ a: 1 }, { a: 1 }), undefined);
    assert.deepEqual(firstDifference({ a: { b: [1, 2] } }, { a: { b: [1, 3] } }), ['a', 'b', 1]);
    assert.deepEqual(firstDifference({ a: 1 }, { a: 1, c: 2 }), ['c']);
  });

  for (const phase of ['running', 'completed', 'failed']) {
    it(`LB401 refuses a spec change of a ${phase} Backup, naming the field`, () => {
      const update = withPhase(backup({ method: 'mariadb-dump' }), phase);
      const result = reviewWith(update, { old: storedBackup(phase), objects: [cluster()] });
      assert.deepEqual(policiesOf(result), ['LB401']);
      assert.match(result.findings[0]?.message ?? '', new RegExp(`spec.method cannot change: this Backup is ${phase}`));
    });
  }

  it('LB401 allows changes while pending or without status, and metadata changes always', () => {
    const update = (phase?: string) => withPhase(backup({ method: 'mariadb-dump' }), phase);
    assert.deepEqual(
      policiesOf(reviewWith(update('pending'), { old: storedBackup('pending'), objects: [cluster()] })),
      [],
    );
    assert.deepEqual(policiesOf(reviewWith(update(), { old: storedBackup(undefined), objects: [cluster()] })), []);
    const relabelled = withPhase(backup({ method: 'mariabackup' }, { labels: { team: 'shop' } }), 'completed');
    assert.deepEqual(policiesOf(reviewWith(relabelled, { old: storedBackup('completed'), objects: [cluster()] })), []);
  });

  it('LB401 keeps a completed or failed phase final, so finished work is never rerun', () => {
    for (const [from, to] of [
      ['completed', 'pending'],
      ['failed', 'running'],
      ['completed', undefined],
    ] as const) {
      const result = reviewWith(withPhase(backup({ method: 'mariabackup' }), to), {
        old: storedBackup(from),
        objects: [cluster()],
      });
      assert.deepEqual(policiesOf(result), ['LB401'], `${from} -> ${String(to)}`);
      assert.match(result.findings[0]?.message ?? '', new RegExp(`status.phase cannot leave ${from}`));
    }
    const running = reviewWith(withPhase(backup({ method: 'mariabackup' }), 'completed'), {
      old: storedBackup('running'),
      objects: [cluster()],
    });
    assert.deepEqual(policiesOf(running), [], 'running may complete');
  });

  it('LB402 refuses a spec change of a started Restore and allows it while pending', () => {
    const target = cluster({
      externalClusters: [
        { name: 'a', objectStore: { bucket: 'bkt', inheritFromIAMRole: true } },
        { name: 'b', objectStore: { bucket: 'bkt', inheritFromIAMRole: true } },
      ],
    });
    const changed = reviewWith(restore('b', 'running'), { old: restore('a', 'running'), objects: [target] });
    assert.deepEqual(policiesOf(changed), ['LB402']);
    assert.match(
      changed.findings[0]?.message ?? '',
      /spec.source cannot change: this Restore is running; create a new Restore instead/,
    );
    assert.deepEqual(
      policiesOf(reviewWith(restore('b', 'pending'), { old: restore('a', 'pending'), objects: [target] })),
      [],
    );
  });
});

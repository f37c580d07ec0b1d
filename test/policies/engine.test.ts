import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { mutate, review } from '../../policies/engine.js';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';
import { DEFAULT_SETTINGS } from '../../policies/policy-types.js';
import { decode } from '../../policies/schema-check.js';
import { backup, cluster, fakeNeighbours, fileDocs, policiesOf, reviewWith, toObject } from '../helpers.js';

const examplesDir = join(PACKAGE_ROOT, 'policies', 'examples');

/** Every Lifeboat object in the examples, each with the other documents of its file as neighbours. */
function exampleCases(): { name: string; doc: unknown; others: unknown[] }[] {
  return readdirSync(examplesDir).flatMap((id) =>
    ['pass.yaml', 'fail.yaml'].flatMap((file) => {
      let docs: unknown[];
      try {
        docs = fileDocs(join(examplesDir, id, file));
      } catch {
        return [];
      }
      return docs
        .filter((d) => decode(d).type === 'lifeboat')
        .map((doc, i) => ({
          name: `${id}/${file}#${i}`,
          doc,
          others: docs.filter((d) => d !== doc && decode(d).type === 'lifeboat'),
        }));
    }),
  );
}

describe('engine (with fake neighbours)', () => {
  it('mutation is idempotent on every example: mutate(mutate(x)) == mutate(x)', () => {
    const cases = exampleCases();
    assert.ok(cases.length > 50, `only ${cases.length} example objects found`);
    for (const c of cases) {
      const base = {
        operation: 'CREATE' as const,
        neighbours: fakeNeighbours({ objects: c.others }),
        settings: DEFAULT_SETTINGS,
      };
      const once = mutate(toObject(c.doc), base);
      const twice = mutate(once.object, base);
      assert.deepEqual(twice.object, once.object, c.name);
      assert.deepEqual(twice.applied, [], `${c.name} changed on the second pass`);
    }
  });

  it('mutation never overrides a value the user wrote, and does not touch its input', () => {
    const input = toObject(
      backup({
        method: 'mariadb-dump',
        target: 'primary',
        online: false,
        objectStore: { bucket: 'mine', inheritFromIAMRole: true },
      }),
    );
    const before = structuredClone(input);
    const result = reviewWith(input, { objects: [cluster()] });
    assert.deepEqual(input, before);
    assert.equal(result.object?.kind, 'Backup');
    if (result.object?.kind !== 'Backup') return;
    assert.equal(result.object.spec.method, 'mariadb-dump');
    assert.equal(result.object.spec.target, 'primary');
    assert.equal(result.object.spec.online, false);
    assert.equal(result.object.spec.objectStore?.bucket, 'mine');
    assert.deepEqual(
      result.applied.map((a) => a.policy),
      ['LB305'],
    );
  });

  it('a new Backup gets the Cluster objectStore snapshot, method from the engine, and defaults', () => {
    const result = reviewWith(backup(), { objects: [cluster({ engine: 'mysql' })] });
    assert.equal(result.object?.kind, 'Backup');
    if (result.object?.kind !== 'Backup') return;
    assert.deepEqual(result.object.spec.objectStore, { bucket: 'backups', inheritFromIAMRole: true });
    assert.equal(result.object.spec.method, 'xtrabackup');
    assert.equal(result.object.spec.target, 'prefer-standby');
    assert.equal(result.object.spec.online, true);
    assert.equal(result.object.metadata.labels?.['lifeboat.dev/cluster'], 'shop');
  });

  it('Cluster backup defaults win over engine defaults', () => {
    const result = reviewWith(backup(), {
      objects: [
        cluster({
          backup: {
            objectStore: { bucket: 'b-1', inheritFromIAMRole: true },
            method: 'mariadb-dump',
            target: 'shop-0',
          },
        }),
      ],
    });
    assert.equal(result.object?.kind === 'Backup' && result.object.spec.method, 'mariadb-dump');
    assert.equal(result.object?.kind === 'Backup' && result.object.spec.target, 'shop-0');
  });

  it('on UPDATE only the label is filled; a stored spec is never rewritten', () => {
    const old = backup({}, { labels: {} });
    const result = reviewWith(backup(), { old, objects: [cluster()] });
    assert.deepEqual(
      result.applied.map((a) => a.policy),
      ['LB305'],
    );
  });

  it('without its Cluster a Backup still gets target, online and label, and a warning', () => {
    const result = reviewWith(backup());
    assert.deepEqual(result.applied.map((a) => a.policy).sort(), ['LB303', 'LB304', 'LB305']);
    assert.deepEqual(
      result.findings.map((f) => [f.policy, f.severity]),
      [['LB603', 'warn']],
    );
  });

  it('mutateOnly: the same mutation, and no validating policy runs', () => {
    const input = {
      document: backup({ allowUnsafe: true }),
      operation: 'CREATE' as const,
      neighbours: fakeNeighbours({ objects: [cluster()] }),
      settings: DEFAULT_SETTINGS,
    };
    const full = review(input);
    const mutated = review({ ...input, mutateOnly: true });
    // LB501: allowUnsafe without a reason; found by validation only.
    assert.deepEqual(policiesOf(full), ['LB501']);
    assert.deepEqual(mutated.findings, []);
    assert.deepEqual(mutated.object, full.object);
    assert.deepEqual(mutated.applied, full.applied);
  });

  it('leaves foreign manifests alone and reports undecodable Lifeboat ones', () => {
    assert.equal(reviewWith({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }).outcome, 'foreign');
    assert.equal(reviewWith({ apiVersion: 'apps/v1', kind: 'Deployment' }).outcome, 'foreign');
    const bad = reviewWith({ apiVersion: 'lifeboat.dev/v1alpha1', kind: 'Backup', metadata: { name: 'x' }, spec: {} });
    assert.equal(bad.outcome, 'invalid');
    assert.deepEqual(
      bad.findings.map((f) => f.policy),
      ['LB004'],
    );
    assert.match(bad.findings[0]?.message ?? '', /spec: missing required field "cluster"/);
  });

  it('a problem in an inherited field is reported on the Cluster, not again on each Backup', () => {
    const httpStore = { bucket: 'backups', endpoint: 'http://minio:9000', inheritFromIAMRole: true };
    const owner = cluster({ backup: { objectStore: httpStore } });
    assert.deepEqual(policiesOf(reviewWith(owner)), ['LB205']);
    const inherited = reviewWith(backup(), { objects: [owner] });
    assert.ok(inherited.applied.some((a) => a.policy === 'LB301'));
    assert.deepEqual(policiesOf(inherited), []);
    assert.deepEqual(
      policiesOf(reviewWith(backup({ objectStore: httpStore }), { objects: [owner] })),
      ['LB205'],
      'written on the Backup itself',
    );
  });
});

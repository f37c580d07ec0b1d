// The trust policies: one writer per key prefix, IAM roles only where the platform allows them,
// destinations only from the allowlists, and fields that do what they say.
import assert from 'node:assert/strict';
import { hostMatches } from '../../policies/host-patterns.js';
import { keyPrefixProblem } from '../../policies/object-store-policies.js';
import { backup, cluster, policiesOf, reviewWith } from '../helpers.js';

const store = { bucket: 'backups', path: 'prod', inheritFromIAMRole: true };

function clusterIn(
  namespace: string,
  name: string,
  objectStore: Record<string, unknown> = store,
  spec: Record<string, unknown> = {},
): Record<string, unknown> {
  const doc = cluster({ backup: { objectStore }, ...spec }, name);
  return { ...doc, metadata: { name, namespace } };
}

describe('trust policies (fake neighbours)', () => {
  describe('LB801 backup-prefix-unique', () => {
    it('refuses a Cluster whose bucket, path and name another Cluster already writes, naming it', () => {
      const other = clusterIn('team-a', 'shop');
      const result = reviewWith(clusterIn('team-b', 'shop'), { objects: [other], listsClusters: true });
      assert.deepEqual(policiesOf(result), ['LB801']);
      const finding = result.findings[0];
      assert.equal(finding?.severity, 'deny');
      assert.match(finding?.message ?? '', /Cluster team-a\/shop/);
      assert.match(finding?.message ?? '', /s3:\/\/backups\/prod\/shop\//);
      assert.match(finding?.message ?? '', /path|name/);
    });

    it('compares the normalized prefix: "prod/" and "prod" are the same place', () => {
      const other = clusterIn('team-a', 'shop', { ...store, path: 'prod/' });
      assert.deepEqual(policiesOf(reviewWith(clusterIn('team-b', 'shop'), { objects: [other], listsClusters: true })), [
        'LB801',
      ]);
    });

    it('admits another path, another name, another bucket or another endpoint', () => {
      const other = clusterIn('team-a', 'shop');
      for (const doc of [
        clusterIn('team-b', 'shop', { ...store, path: 'team-b' }),
        clusterIn('team-b', 'shop2'),
        clusterIn('team-b', 'shop', { ...store, bucket: 'other' }),
        clusterIn('team-b', 'shop', { ...store, endpoint: 'https://minio.example:9000' }),
      ]) {
        assert.deepEqual(
          policiesOf(reviewWith(doc, { objects: [other], listsClusters: true })),
          [],
          JSON.stringify(doc),
        );
      }
    });

    it('does not collide with itself on UPDATE', () => {
      const stored = clusterIn('team-a', 'shop');
      const result = reviewWith(clusterIn('team-a', 'shop'), { objects: [stored], old: stored, listsClusters: true });
      assert.deepEqual(policiesOf(result), []);
    });

    it('lets a Cluster read the prefix another writes (externalClusters is reading, not writing)', () => {
      const writer = clusterIn('team-a', 'shop');
      const reader = clusterIn(
        'team-b',
        'shop-copy',
        { ...store, path: 'copies' },
        {
          externalClusters: [{ name: 'shop', objectStore: store }],
        },
      );
      assert.deepEqual(policiesOf(reviewWith(reader, { objects: [writer], listsClusters: true })), []);
    });

    it('refuses a Backup or schedule whose own objectStore writes under another namespace’s Cluster of that name', () => {
      const victim = clusterIn('team-a', 'shop');
      const own = clusterIn('team-b', 'shop', { ...store, path: 'team-b' });
      const world = { objects: [victim, own], listsClusters: true };
      const aimed = { ...store, path: 'prod' };
      const intruder = { ...backup({ objectStore: aimed }), metadata: { name: 'b1', namespace: 'team-b' } };
      const result = reviewWith(intruder, world);
      assert.deepEqual(policiesOf(result), ['LB801']);
      assert.match(
        result.findings[0]?.message ?? '',
        /Cluster team-a\/shop already writes its backups under s3:\/\/backups\/prod\/shop\//,
      );
      assert.deepEqual(result.findings[0]?.path, ['spec', 'objectStore', 'path']);
      const schedule = {
        apiVersion: 'lifeboat.dev/v1alpha1',
        kind: 'ScheduledBackup',
        metadata: { name: 'nightly', namespace: 'team-b' },
        spec: { schedule: '0 3 * * *', backupTemplate: { cluster: { name: 'shop' }, objectStore: aimed } },
      };
      assert.deepEqual(policiesOf(reviewWith(schedule, world)), ['LB801']);
      // Its own Cluster's store, copied or written out, and a store of its own elsewhere are fine.
      for (const objectStore of [undefined, { ...store, path: 'team-b' }, { ...store, path: 'elsewhere' }]) {
        const fine = { ...backup(objectStore ? { objectStore } : {}), metadata: { name: 'b2', namespace: 'team-b' } };
        assert.deepEqual(policiesOf(reviewWith(fine, world)), [], JSON.stringify(objectStore));
      }
    });

    it('judges nothing where Clusters cannot be listed', () => {
      assert.deepEqual(
        policiesOf(reviewWith(clusterIn('team-b', 'shop'), { objects: [clusterIn('team-a', 'shop')] })),
        [],
      );
    });
  });

  describe('LB802 iam-role-namespace', () => {
    const label = 'lifeboat.dev/allow-iam-role';
    it('refuses inheritFromIAMRole in a namespace without the label, saying which label', () => {
      const result = reviewWith(clusterIn('team-a', 'shop'), { namespaces: { 'team-a': {} } });
      assert.deepEqual(policiesOf(result), ['LB802']);
      assert.match(result.findings[0]?.message ?? '', new RegExp(`${label}: "true"`));
      assert.deepEqual(result.findings[0]?.path, ['spec', 'backup', 'objectStore', 'inheritFromIAMRole']);
    });

    it('admits it in a labelled namespace, and says nothing when the labels cannot be known', () => {
      assert.deepEqual(
        policiesOf(reviewWith(clusterIn('team-a', 'shop'), { namespaces: { 'team-a': { [label]: 'true' } } })),
        [],
      );
      assert.deepEqual(policiesOf(reviewWith(clusterIn('team-a', 'shop'))), []);
    });

    it('covers a Backup of its own store too', () => {
      const doc = backup({ objectStore: { bucket: 'bkt', inheritFromIAMRole: true } });
      assert.deepEqual(policiesOf(reviewWith(doc, { objects: [cluster()], namespaces: { default: {} } })), ['LB802']);
    });
  });

  describe('LB803 object-store-endpoint-allowed and LB804 database-host-allowed', () => {
    it('host patterns: exact names, a leading *. for subdomains, * for any', () => {
      assert.ok(hostMatches('minio.example.com', ['minio.example.com']));
      assert.ok(hostMatches('MinIO.Example.com', ['minio.example.com']));
      assert.ok(hostMatches('a.b.example.com', ['*.example.com']));
      assert.ok(!hostMatches('example.com', ['*.example.com']));
      assert.ok(!hostMatches('evilexample.com', ['*.example.com']));
      assert.ok(hostMatches('10.0.0.5', ['10.0.0.5']));
      assert.ok(hostMatches('anything', ['*']));
      assert.ok(!hostMatches('minio.example.com.evil.io', ['minio.example.com']));
    });

    it('refuses an endpoint outside the allowlist, and AWS (no endpoint) unless it is allowed', () => {
      const settings = { allowedEndpoints: ['minio.example.com'] };
      const at = (endpoint?: string) => clusterIn('team-a', 'shop', { ...store, ...(endpoint ? { endpoint } : {}) });
      assert.deepEqual(policiesOf(reviewWith(at('https://minio.example.com:9000'), { settings })), []);
      const refused = reviewWith(at('https://evil.example.net'), { settings });
      assert.deepEqual(policiesOf(refused), ['LB803']);
      assert.match(refused.findings[0]?.message ?? '', /evil\.example\.net.*minio\.example\.com/);
      assert.deepEqual(policiesOf(reviewWith(at(), { settings })), ['LB803']);
      assert.deepEqual(policiesOf(reviewWith(at(), { settings: { allowedEndpoints: ['*.amazonaws.com'] } })), []);
      assert.deepEqual(policiesOf(reviewWith(at('https://anywhere.example'))), [], 'no allowlist: anything goes');
    });

    it('refuses a database host outside the allowlist, on the Cluster and on a Backup of it', () => {
      const settings = { allowedDatabaseHosts: ['*.svc'] };
      assert.deepEqual(policiesOf(reviewWith(cluster(), { settings })), []);
      const far = cluster({ instances: { static: [{ name: 'shop-0', host: 'db.attacker.example' }] } });
      const refused = reviewWith(far, { settings });
      assert.deepEqual(policiesOf(refused), ['LB804']);
      assert.deepEqual(refused.findings[0]?.path, ['spec', 'instances', 'static', 0, 'host']);
      assert.deepEqual(policiesOf(reviewWith(backup(), { objects: [far], settings })), ['LB804']);
    });
  });

  it('LB209 refuses signatureVersion v2: Lifeboat signs with V4', () => {
    const result = reviewWith(clusterIn('team-a', 'shop', { ...store, signatureVersion: 'v2' }));
    assert.deepEqual(policiesOf(result), ['LB209']);
    assert.match(result.findings[0]?.message ?? '', /V4.*remove the field or set v4/);
    assert.deepEqual(policiesOf(reviewWith(clusterIn('team-a', 'shop', { ...store, signatureVersion: 'v4' }))), []);
  });

  it('LB507 refuses online: false on a Backup and a ScheduledBackup template; online: true passes', () => {
    const refused = reviewWith(backup({ online: false }), { objects: [cluster()] });
    assert.deepEqual(policiesOf(refused), ['LB507']);
    assert.match(refused.findings[0]?.message ?? '', /does not stop/);
    assert.deepEqual(policiesOf(reviewWith(backup({ online: true }), { objects: [cluster()] })), []);
    const scheduled = {
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'ScheduledBackup',
      metadata: { name: 'nightly' },
      spec: { schedule: '0 3 * * *', backupTemplate: { cluster: { name: 'shop' }, online: false } },
    };
    assert.deepEqual(policiesOf(reviewWith(scheduled, { objects: [cluster()] })), ['LB507']);
  });

  it('LB203 keeps path to a safe character set', () => {
    for (const ok of ['prod', 'prod/eu-1', "a.b/c_d!*'()"]) assert.equal(keyPrefixProblem(ok), undefined, ok);
    for (const bad of ['prod/ü', 'a b', 'a?b', 'a#b', 'a%2e', 'x/', 'a\nb']) {
      assert.notEqual(keyPrefixProblem(bad), undefined, JSON.stringify(bad));
    }
    assert.match(keyPrefixProblem('a b') ?? '', /" "/);
  });
});

// The generated CRDs on a real kube-apiserver: installed and Established, objects of each kind
// stored and read back, status through the subresource, printer columns, and the CEL rules and
// strict field validation that the API server itself enforces (CEL runs before the validating
// webhook, so these refusals are the API server's own).
import assert from 'node:assert/strict';
import { assertKeptAsWritten, assertRefused, parseTables, tableFor } from './support/asserts.js';
import { crdManifests, sample, SAMPLE_SHA256, type SampleFile } from './support/fixtures.js';
import { namespacePerTest, kube, kubectl, kubectlOk, type Plural, type TestNamespace } from './support/kube.js';
import { withoutStackRunner } from './support/stack.js';

const ONE_OF_EACH: [Plural, SampleFile][] = [
  ['clusters', 'cluster-standalone'],
  ['backups', 'backup'],
  ['scheduledbackups', 'scheduled-backup'],
  ['restores', 'restore'],
];

async function createOneOfEach(ns: TestNamespace): Promise<void> {
  for (const [plural, file] of ONE_OF_EACH) await ns.create(plural, sample(file, ns.name));
}

describe('Lifeboat CRDs on a real API server', function () {
  withoutStackRunner();
  it('has the four CRDs installed and Established, as generated', async function () {
    for (const manifest of crdManifests()) {
      const name = manifest.metadata.name;
      const crd = await kube().crds.readCustomResourceDefinition({ name });
      const conditions = new Map((crd.status?.conditions ?? []).map((c) => [c.type, c.status]));
      assert.equal(conditions.get('Established'), 'True', `${name} Established`);
      assert.equal(conditions.get('NamesAccepted'), 'True', `${name} NamesAccepted`);
      assert.equal(crd.spec.group, 'lifeboat.dev');
      assert.deepEqual(crd.spec.names.shortNames, manifest.spec.names.shortNames);
      assert.deepEqual(crd.spec.names.categories, ['lifeboat']);
      const [version] = crd.spec.versions;
      assert.equal(version?.name, 'v1alpha1');
      assert.ok(version?.subresources?.status, `${name} has the status subresource`);
      const columns = (v: { additionalPrinterColumns?: { name: string }[] } | undefined): string[] =>
        (v?.additionalPrinterColumns ?? []).map((c) => c.name);
      assert.deepEqual(columns(version), columns(manifest.spec.versions[0]), `${name} printer columns`);
    }
  });

  describe('in a fresh namespace', function () {
    let ns: TestNamespace;
    namespacePerTest((created) => (ns = created));

    it('creates and reads back one object of each kind from crds/samples', async function () {
      for (const [plural, file] of ONE_OF_EACH) {
        const want = sample(file, ns.name);
        const name = want.metadata.name ?? '';
        const created = await ns.create(plural, want);
        assert.ok(created.metadata.uid, `${plural}/${name} got a uid`);
        const got = await ns.get(plural, name);
        assert.equal(got.kind, want.kind);
        assert.equal(got.apiVersion, 'lifeboat.dev/v1alpha1');
        assert.equal(got.metadata.namespace, ns.name);
        assert.equal(got.metadata.generation, 1);
        // Kept as written, nothing pruned; the webhook's defaults (webhook.e2e.ts) come on top.
        assertKeptAsWritten(got.spec, want.spec, `${plural}/${name} spec`);
      }
    });

    it('writes status only through the status subresource', async function () {
      await ns.create('backups', sample('backup', ns.name));
      const status = { phase: 'completed', size: 1048576, sha256: SAMPLE_SHA256, method: 'mariabackup' };
      await ns.patchStatus('backups', 'shop-first', status);
      const got = await ns.get('backups', 'shop-first');
      assert.deepEqual(got.status, status);
      assert.equal(got.metadata.generation, 1, 'a status write does not bump the generation');

      // With the subresource on, status sent to the main resource is dropped.
      await ns.patch('backups', 'shop-first', { status: { phase: 'failed' } });
      assert.equal((await ns.get('backups', 'shop-first')).status?.phase, 'completed');

      // The schema still applies to status: sha256 must be 64 lowercase hex characters.
      await assertRefused(ns.patchStatus('backups', 'shop-first', { sha256: 'abc' }), 422, 'status.sha256');
    });

    it('shows the printer columns in kubectl get', async function () {
      await createOneOfEach(ns);
      await ns.patchStatus('backups', 'shop-first', { phase: 'completed', size: 4096, sha256: SAMPLE_SHA256 });

      const tables = parseTables(kubectlOk(['get', 'backups,clusters,scheduledbackups,restores', '-n', ns.name]));
      assert.equal(tables.length, 4);
      const backups = tableFor(tables, 'backup.lifeboat.dev');
      assert.deepEqual(backups.columns, ['NAME', 'CLUSTER', 'METHOD', 'PHASE', 'SIZE', 'AGE'], 'REASON is wide-only');
      assert.equal(backups.rows[0]?.CLUSTER, 'shop');
      assert.equal(backups.rows[0]?.PHASE, 'completed');
      assert.equal(backups.rows[0]?.SIZE, '4096');
      const clusters = tableFor(tables, 'cluster.lifeboat.dev');
      assert.deepEqual(clusters.columns, ['NAME', 'ENGINE', 'TOPOLOGY', 'LAST BACKUP', 'READY', 'AGE']);
      assert.equal(clusters.rows[0]?.ENGINE, 'mariadb');
      assert.equal(clusters.rows[0]?.TOPOLOGY, 'standalone');
      const scheduled = tableFor(tables, 'scheduledbackup.lifeboat.dev');
      assert.deepEqual(scheduled.columns, ['NAME', 'CLUSTER', 'SCHEDULE', 'SUSPEND', 'LAST SCHEDULE', 'AGE']);
      assert.equal(scheduled.rows[0]?.SCHEDULE, '0 3 * * *');
      const restores = tableFor(tables, 'restore.lifeboat.dev');
      assert.deepEqual(restores.columns, [
        'NAME',
        'CLUSTER',
        'BACKUP',
        'SOURCE',
        'PHASE',
        'BACKUP ID',
        'VERIFIED',
        'PROGRESS',
        'AGE',
      ]);
      assert.equal(restores.rows[0]?.SOURCE, 'shop');

      const [wide] = parseTables(kubectlOk(['get', 'backups', '-o', 'wide', '-n', ns.name]));
      assert.deepEqual(wide?.columns, ['NAME', 'CLUSTER', 'METHOD', 'PHASE', 'SIZE', 'REASON', 'AGE']);
    });

    it('lists all four kinds by the lifeboat category and by short names', async function () {
      await createOneOfEach(ns);
      const names = (out: string): string[] => parseTables(out).flatMap((t) => t.rows.map((r) => r.NAME ?? ''));
      const all = [
        'backup.lifeboat.dev/shop-first',
        'cluster.lifeboat.dev/shop',
        'restore.lifeboat.dev/orders-from-shop',
        'scheduledbackup.lifeboat.dev/shop-nightly',
      ];
      assert.deepEqual(names(kubectlOk(['get', 'lifeboat', '-n', ns.name])).sort(), all);
      assert.deepEqual(names(kubectlOk(['get', 'lbb,lbc,lbsb,lbr', '-n', ns.name])).sort(), all);
    });

    it('refuses a spec change once a Backup has completed (LB401)', async function () {
      await ns.create('backups', sample('backup', ns.name));
      await ns.patchStatus('backups', 'shop-first', { phase: 'pending' });
      await ns.patch('backups', 'shop-first', { spec: { method: 'mariabackup' } }); // pending: still editable

      await ns.patchStatus('backups', 'shop-first', { phase: 'completed', size: 1, sha256: SAMPLE_SHA256 });
      await assertRefused(ns.patch('backups', 'shop-first', { spec: { method: 'mariadb-dump' } }), 422, 'LB401');
      assert.equal((await ns.get('backups', 'shop-first')).spec?.method, 'mariabackup');
      // The rule guards the spec only: labels stay editable.
      await ns.patch('backups', 'shop-first', { metadata: { labels: { team: 'shop' } } });
    });

    it('keeps a completed phase final, also through the status subresource (LB401)', async function () {
      await ns.create('backups', sample('backup', ns.name));
      await ns.patchStatus('backups', 'shop-first', { phase: 'completed', size: 1, sha256: SAMPLE_SHA256 });
      await assertRefused(ns.patchStatus('backups', 'shop-first', { phase: 'pending' }), 422, 'LB401');
      // Removing the status would reopen the spec; that is refused too.
      const removal = '[{"op":"remove","path":"/status"}]';
      const removed = kubectl([
        'patch',
        'lbb',
        'shop-first',
        '-n',
        ns.name,
        '--subresource=status',
        '--type=json',
        '-p',
        removal,
      ]);
      assert.notEqual(removed.status, 0);
      assert.match(removed.stderr, /LB401: a completed or failed Backup keeps its phase/);
      assert.equal((await ns.get('backups', 'shop-first')).status?.phase, 'completed');
    });

    it('refuses a spec change once a Restore is running (LB402)', async function () {
      await ns.create('restores', sample('restore', ns.name));
      await ns.patchStatus('restores', 'orders-from-shop', { phase: 'running' });
      await assertRefused(ns.patch('restores', 'orders-from-shop', { spec: { source: 'other' } }), 422, 'LB402');
    });

    it('refuses a Restore with both backup and source, or neither (LB101)', async function () {
      const both = sample('restore', ns.name);
      both.spec = { ...both.spec, backup: { name: 'shop-first' } };
      await assertRefused(ns.create('restores', both), 422, 'LB101');
      const neither = sample('restore', ns.name);
      neither.spec = { cluster: { name: 'orders' } };
      await assertRefused(ns.create('restores', neither), 422, 'LB101');
    });

    it('refuses a backupID beside a backup, on a Restore and on a bootstrap (LB104), so no runner has to pick', async function () {
      const restore = sample('restore', ns.name);
      restore.spec = { cluster: { name: 'orders' }, backup: { name: 'shop-first' }, backupID: '20261201T030000Z' };
      await assertRefused(ns.create('restores', restore), 422, 'LB104');
      const bootstrap = sample('cluster-standalone', ns.name);
      bootstrap.spec = {
        ...bootstrap.spec,
        bootstrap: { recovery: { backup: { name: 'shop-first' }, backupID: '20261201T030000Z' } },
      };
      await assertRefused(ns.create('clusters', bootstrap), 422, 'LB104');
      // With source, a backupID is what chooses among its backups.
      const chosen = sample('restore', ns.name);
      chosen.spec = { ...chosen.spec, backupID: '20261201T030000Z' };
      await ns.create('restores', chosen);
    });

    it('refuses unknown fields under strict field validation', async function () {
      const manifest = JSON.stringify({ ...sample('backup', ns.name), spec: { cluster: { name: 'shop' }, bogus: 1 } });
      const res = kubectl(['apply', '--validate=strict', '-f', '-'], manifest);
      assert.notEqual(res.status, 0, `kubectl apply --validate=strict accepted an unknown field: ${res.stdout}`);
      assert.match(res.stderr, /unknown field "spec\.bogus"/);
      assert.match(kubectl(['get', 'backup', 'shop-first', '-n', ns.name]).stderr, /NotFound/);

      // The same through the API (fieldValidation=Strict), caught before the schema's required fields.
      const typo = { ...sample('cluster-standalone', ns.name), spec: { engine: 'mariadb', enigne: 'mysql' } };
      await assertRefused(ns.create('clusters', typo), 400, 'unknown field "spec.enigne"');
    });
  });
});

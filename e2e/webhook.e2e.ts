// The admission webhook as `kubectl apply` meets it: the stack's `lifeboat webhook` process,
// registered with the real kube-apiserver (webhook/manifests/local), judging every Lifeboat object.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CATALOG, isMutating, type CatalogEntry } from '../policies/catalog.js';
import { examplePath } from '../policies/cli/package-paths.js';
import {
  createNamespace,
  namespacePerTest,
  kubectl,
  kubectlOk,
  type Plural,
  type TestNamespace,
} from './support/kube.js';
import { REPO_ROOT } from './support/stack.js';

type Doc = { kind: string; metadata: { name: string }; status?: object } & Record<string, unknown>;

const PLURAL: Record<string, Plural> = {
  Cluster: 'clusters',
  Backup: 'backups',
  ScheduledBackup: 'scheduledbackups',
  Restore: 'restores',
};

/**
 * Policies whose failing example the webhook cannot refuse, and why; every other deny policy's
 * example must be refused with its ID in the message.
 */
const NOT_AT_ADMISSION: Record<string, string> = {
  LB002: 'not YAML: kubectl refuses it before the API server is called',
  LB003: 'not an object: kubectl refuses it before the API server is called',
  LB004: "the CRD's structural schema refuses it first, in the API server's own words",
  LB005: 'not a Lifeboat object: the webhook rules never send it',
  LB601: 'needs Secret keys, and the webhook is granted no Secrets (checked by lifeboat check and the runner)',
  LB801:
    'its example spans two namespaces; e2e/admission-trust.e2e.ts refuses the second Cluster through the API server',
  LB802: 'its example carries its Namespace; e2e/admission-trust.e2e.ts refuses it in an unlabelled namespace',
  LB803: 'needs the webhook started with --allowed-endpoints, which the stack does not set',
  LB804: 'needs the webhook started with --allowed-db-hosts, which the stack does not set',
};

function docsOf(path: string): Doc[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJS() as Doc);
}

interface Verdict {
  readonly accepted: boolean;
  readonly output: string;
}

function apply(ns: TestNamespace, doc: Doc, dryRun = false): Verdict {
  const args = ['apply', '-n', ns.name, '-f', '-', ...(dryRun ? ['--dry-run=server'] : [])];
  const res = kubectl(args, JSON.stringify({ ...doc, status: undefined }));
  return { accepted: res.status === 0, output: `${res.stdout}${res.stderr}`.trim() };
}

/** Applies a document as a user would; a status it carries is then written through the subresource. */
async function applyWithStatus(ns: TestNamespace, doc: Doc): Promise<Verdict> {
  const verdict = apply(ns, doc);
  const plural = PLURAL[doc.kind];
  if (verdict.accepted && doc.status && plural) await ns.patchStatus(plural, doc.metadata.name, doc.status);
  return verdict;
}

/** The refusal's text without the request-specific prefix, to compare dry and real runs. */
function refusal(output: string): string {
  return output.replace(/^Error from server.*?: /s, '').replace(/\s+/g, ' ');
}

/**
 * The examples store backups with inheritFromIAMRole (no Secrets to bring), which LB802 admits only
 * in a namespace a platform administrator labelled; these namespaces are.
 */
function allowIamRole(ns: TestNamespace): void {
  kubectlOk(['label', 'namespace', ns.name, 'lifeboat.dev/allow-iam-role=true']);
}

function exampleCase(entry: CatalogEntry): void {
  it(`${entry.id} ${entry.name}: fail.yaml is refused naming ${entry.id}, alike with --dry-run=server`, async function () {
    const ns = await createNamespace(entry.id);
    allowIamRole(ns);
    try {
      const refused: string[] = [];
      for (const doc of docsOf(examplePath(entry.id, 'fail'))) {
        const dry = apply(ns, doc, true);
        const real = await applyWithStatus(ns, doc);
        assert.equal(dry.accepted, real.accepted, `dry run and apply agree on ${doc.kind} ${doc.metadata.name}`);
        if (!real.accepted) {
          assert.equal(refusal(dry.output), refusal(real.output), 'the same message, dry or not');
          refused.push(real.output);
        }
      }
      assert.ok(
        refused.some((out) => out.includes(entry.id)),
        `no refusal named ${entry.id}: ${JSON.stringify(refused)}`,
      );
    } finally {
      await ns.cleanup();
    }
  });
}

describe('admission webhook on a real API server', function () {
  describe('refuses the failing example of every deny policy', function () {
    const judged = CATALOG.filter((e) => e.id !== 'LB001' && !isMutating(e) && e.severity === 'deny');
    for (const entry of judged.filter((e) => !(e.id in NOT_AT_ADMISSION))) exampleCase(entry);

    it('and the cases it leaves to others are exactly the documented ones', function () {
      const left = judged.filter((e) => e.id in NOT_AT_ADMISSION).map((e) => e.id);
      assert.deepEqual(left, Object.keys(NOT_AT_ADMISSION));
    });
  });

  describe('in a fresh namespace', function () {
    let ns: TestNamespace;
    namespacePerTest((created) => {
      ns = created;
      allowIamRole(ns);
    });

    const clusterDoc = (): Doc => docsOf(examplePath('LB301', 'fail'))[0] as Doc;
    const backupDoc = (): Doc => docsOf(examplePath('LB301', 'fail'))[1] as Doc;

    it("fills a new Backup's objectStore from its Cluster, with the defaults and the cluster label", async function () {
      const cluster = clusterDoc();
      const backup = backupDoc();
      assert.equal(backup.spec && (backup.spec as Record<string, unknown>)['objectStore'], undefined);
      assert.ok(apply(ns, cluster).accepted);
      const out = apply(ns, backup);
      assert.ok(out.accepted, out.output);
      const stored = await ns.get('backups', backup.metadata.name);
      const clusterSpec = cluster['spec'] as { backup: { objectStore: unknown } };
      assert.deepEqual(stored.spec?.['objectStore'], clusterSpec.backup.objectStore);
      assert.equal(stored.spec?.['method'], 'mariabackup');
      assert.equal(stored.spec?.['target'], 'prefer-standby');
      assert.equal(
        stored.metadata.labels?.['lifeboat.dev/cluster'],
        (backup.spec as { cluster: { name: string } }).cluster.name,
      );
    });

    it('kubectl apply -f crds/samples/ (the README): no warnings, and the Backup inherits its Cluster’s objectStore', async function () {
      const out = kubectl(['apply', '-n', ns.name, '-f', join(REPO_ROOT, 'crds', 'samples')]);
      assert.equal(out.status, 0, out.stderr);
      // kubectl prints admission warnings on stderr.
      assert.equal(out.stderr, '');
      assert.match(out.stdout, /backup\.lifeboat\.dev\/shop-first created/);
      const shop = await ns.get('clusters', 'shop');
      const backup = await ns.get('backups', 'shop-first');
      const clusterSpec = shop.spec as { backup: { objectStore: unknown } };
      assert.deepEqual(backup.spec?.['objectStore'], clusterSpec.backup.objectStore);
      assert.equal(backup.metadata.labels?.['lifeboat.dev/cluster'], 'shop');
    });

    it('applies the same manifests twice: the second apply changes nothing, and kubectl diff is empty', async function () {
      const docs = [clusterDoc(), backupDoc()];
      const input = docs.map((d) => JSON.stringify(d)).join('\n');
      kubectlOk(['apply', '-n', ns.name, '-f', '-'], input);
      const before = await ns.get('backups', backupDoc().metadata.name);
      const again = kubectlOk(['apply', '-n', ns.name, '-f', '-'], input);
      assert.match(again, /cluster\.lifeboat\.dev\/\S+ unchanged/);
      assert.match(again, /backup\.lifeboat\.dev\/\S+ unchanged/);
      const after = await ns.get('backups', backupDoc().metadata.name);
      // The generation, not the resourceVersion: the stack's runner writes the Backup's status meanwhile.
      assert.equal(after.metadata.generation, before.metadata.generation);
      assert.deepEqual(after.spec, before.spec);
      assert.deepEqual(after.metadata.labels, before.metadata.labels);
      // kubectl diff asks the API server (mutating webhook included) what it would store: no drift.
      const diff = kubectl(['diff', '-n', ns.name, '-f', '-'], input);
      assert.equal(diff.status, 0, `kubectl diff shows drift:\n${diff.stdout}${diff.stderr}`);
    });

    it('refuses a Restore whose Backup does not exist, and one whose Backup has not completed (LB602)', async function () {
      const restore: Doc = {
        apiVersion: 'lifeboat.dev/v1alpha1',
        kind: 'Restore',
        metadata: { name: 'back-to-monday' },
        spec: { cluster: { name: 'shop' }, backup: { name: 'monday' } },
      };
      const missing = apply(ns, restore);
      assert.equal(missing.accepted, false);
      assert.match(missing.output, /LB602/);
      assert.ok(apply(ns, clusterDoc()).accepted);
      // A logical Backup: a physical one may not be restored into a running Cluster (LB107).
      const mondaySpec = { ...(backupDoc()['spec'] as object), method: 'mariadb-dump' };
      const monday: Doc = { ...backupDoc(), metadata: { name: 'monday' }, spec: mondaySpec };
      assert.ok(apply(ns, monday).accepted);
      const running = apply(ns, restore);
      assert.equal(running.accepted, false);
      assert.match(running.output, /LB602/);
      await ns.patchStatus('backups', 'monday', { phase: 'completed', method: 'mariadb-dump' });
      // The webhook remembers a found object for a second at most.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const completed = apply(ns, restore);
      assert.ok(completed.accepted, completed.output);
    });
  });
});

// Trust at admission, through the real kube-apiserver and the stack's webhook: no two Clusters
// write one key prefix, fields Lifeboat would not honour are refused, the IAM role only where the
// Namespace allows it, and an oversized body is refused while the webhook keeps serving.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createNamespace, kubectl, kubectlOk, type KubeObject, type TestNamespace } from './support/kube.js';
import { requireVar } from './support/stack.js';

const S3_CREDENTIALS = {
  accessKeyId: { name: 'shop-s3', key: 'id' },
  secretAccessKey: { name: 'shop-s3', key: 'secret' },
};

function clusterDoc(name: string, objectStore: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name },
    spec: {
      engine: 'mariadb',
      topology: 'standalone',
      instances: { static: [{ name: `${name}-0`, host: '127.0.0.1', port: 13306 }] },
      credentials: { secretRef: { name: 'shop-db' } },
      backup: { objectStore },
    },
  };
}

interface Verdict {
  readonly accepted: boolean;
  readonly output: string;
}

function apply(ns: TestNamespace, doc: KubeObject): Verdict {
  const res = kubectl(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(doc));
  return { accepted: res.status === 0, output: `${res.stdout}${res.stderr}`.trim() };
}

function refused(verdict: Verdict, pattern: RegExp): void {
  assert.equal(verdict.accepted, false, `admitted: ${verdict.output}`);
  assert.match(verdict.output, pattern);
}

/** POSTs a body straight to the stack's webhook, as only the API server should. */
function postToWebhook(path: string, body: Buffer): Promise<{ status: number; text: string }> {
  const url = new URL(path, requireVar('LIFEBOAT_WEBHOOK_URL', 'Lifeboat webhook'));
  const ca = readFileSync(requireVar('LIFEBOAT_WEBHOOK_CA', 'Lifeboat webhook'));
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    // The server may answer 413 and close before the whole body is sent.
    req.on('error', reject);
    req.end(body);
  });
}

describe('admission trust on a real API server', function () {
  const namespaces: TestNamespace[] = [];
  const fresh = async (hint: string): Promise<TestNamespace> => {
    const ns = await createNamespace(hint);
    namespaces.push(ns);
    return ns;
  };
  afterEach(async function () {
    for (const ns of namespaces.splice(0)) await ns.cleanup();
  });

  it('refuses a Cluster writing the bucket, path and name another namespace’s Cluster writes, naming it (LB801)', async function () {
    const [a, b] = [await fresh('prefix-a'), await fresh('prefix-b')];
    const store = { bucket: 'lifeboat', path: `e2e/${a.name}`, credentials: S3_CREDENTIALS };
    const first = apply(a, clusterDoc('shop', store));
    assert.ok(first.accepted, first.output);
    const second = apply(b, clusterDoc('shop', store));
    refused(
      second,
      new RegExp(`LB801 .*Cluster ${a.name}/shop already writes its backups under s3://lifeboat/e2e/${a.name}/shop/`),
    );
    assert.match(second.output, /path of this Cluster's own|another name/);
    // What the message says to change is enough: another path, or another name.
    const ownPath = apply(b, clusterDoc('shop', { ...store, path: `e2e/${b.name}` }));
    assert.ok(ownPath.accepted, ownPath.output);
    const otherName = apply(b, clusterDoc('shop-b', store));
    assert.ok(otherName.accepted, otherName.output);
    // An update of the first Cluster is no collision with itself.
    const relabelled = { ...clusterDoc('shop', store), metadata: { name: 'shop', labels: { team: 'a' } } };
    const update = apply(a, relabelled);
    assert.ok(update.accepted, update.output);
  });

  it('refuses a Backup and a schedule whose own objectStore writes under another namespace’s Cluster of that name (LB801)', async function () {
    const [a, b] = [await fresh('prefix-victim'), await fresh('prefix-intruder')];
    const victimStore = { bucket: 'lifeboat', path: `e2e/${a.name}`, credentials: S3_CREDENTIALS };
    const victim = apply(a, clusterDoc('shop', victimStore));
    assert.ok(victim.accepted, victim.output);
    const own = apply(b, clusterDoc('shop', { ...victimStore, path: `e2e/${b.name}` }));
    assert.ok(own.accepted, own.output);
    const aimed = (name: string) => ({
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'Backup',
      metadata: { name },
      spec: { cluster: { name: 'shop' }, method: 'mariadb-dump', objectStore: victimStore },
    });
    refused(
      apply(b, aimed('into-a')),
      new RegExp(
        `LB801 spec.objectStore.path: Cluster ${a.name}/shop already writes its backups under s3://lifeboat/e2e/${a.name}/shop/`,
      ),
    );
    const schedule = {
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'ScheduledBackup',
      metadata: { name: 'into-a-nightly' },
      spec: { schedule: '0 3 * * *', backupTemplate: aimed('x').spec },
    };
    refused(apply(b, schedule), /LB801 spec.backupTemplate.objectStore.path/);
    // Its own Cluster's store, filled in by admission, is fine.
    const plain = { ...aimed('own'), spec: { cluster: { name: 'shop' }, method: 'mariadb-dump' } };
    const admitted = apply(b, plain);
    assert.ok(admitted.accepted, admitted.output);
  });

  it('refuses signatureVersion v2 (LB209) and online: false on a Backup and a schedule template (LB507)', async function () {
    const ns = await fresh('fields');
    const store = { bucket: 'lifeboat', path: `e2e/${ns.name}`, credentials: S3_CREDENTIALS };
    refused(
      apply(ns, clusterDoc('shop', { ...store, signatureVersion: 'v2' })),
      /LB209 .*Lifeboat signs with V4.*remove the field or set v4/,
    );
    const cluster = apply(ns, clusterDoc('shop', store));
    assert.ok(cluster.accepted, cluster.output);
    const backup = {
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'Backup',
      metadata: { name: 'cold' },
      spec: { cluster: { name: 'shop' }, online: false },
    };
    refused(apply(ns, backup), /LB507 .*does not stop databases it does not run/);
    const schedule = {
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'ScheduledBackup',
      metadata: { name: 'nightly-cold' },
      spec: { schedule: '0 3 * * *', backupTemplate: { cluster: { name: 'shop' }, online: false } },
    };
    refused(apply(ns, schedule), /LB507/);
  });

  it('refuses inheritFromIAMRole in an unlabelled namespace and admits it once the namespace is labelled (LB802)', async function () {
    const ns = await fresh('iam');
    const doc = clusterDoc('shop', { bucket: 'lifeboat', path: `e2e/${ns.name}`, inheritFromIAMRole: true });
    refused(apply(ns, doc), /LB802 .*lifeboat\.dev\/allow-iam-role: "true"/);
    kubectlOk(['label', 'namespace', ns.name, 'lifeboat.dev/allow-iam-role=true']);
    // The webhook reuses what it read for a second at most.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const admitted = apply(ns, doc);
    assert.ok(admitted.accepted, admitted.output);
  });

  it('refuses a 4 MiB body with 413 and keeps serving: the next review through the API server is answered', async function () {
    const big = await postToWebhook('/validate', Buffer.alloc(4 * 1024 * 1024, 'x'));
    assert.equal(big.status, 413, big.text);
    const status = JSON.parse(big.text) as { kind: string; code: number; message: string };
    assert.deepEqual({ kind: status.kind, code: status.code }, { kind: 'Status', code: 413 });
    assert.match(status.message, /^the body is larger than 3145728 bytes/);
    const ns = await fresh('after-413');
    const after = apply(
      ns,
      clusterDoc('shop', { bucket: 'lifeboat', path: `e2e/${ns.name}`, credentials: S3_CREDENTIALS }),
    );
    assert.ok(after.accepted, after.output);
  });
});

// spec.credentials.tls on the real stack: the standalone server and the restore target speak TLS
// and have an account that REQUIREs X509 (hack/mariadb.sh); the Galera nodes have no TLS. A
// runner of this tree runs the Backups and Restores (the stack's runner is stopped), its workers
// real `lifeboat worker` processes with the real tools. A relay before the server shows what a
// refused client sent: never the account, never the password.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { V1Secret } from '@kubernetes/client-node';
import { join } from 'node:path';
import type { RunningRunner } from '../runner/runner-main.js';
import { kube, type KubeObject, type TestNamespace } from './support/kube.js';
import { emptyRestoreTarget, galeraNodes, restoreTarget, standalone, withConnection } from './support/databases.js';
import { startNamespaceRunner } from './support/namespace-runner.js';
import {
  backupOf,
  createStackSecrets,
  minioStore,
  namespaceAndPathPerTest,
  stackCluster,
  waitForPhase,
  waitForRecord,
  type StackTopology,
} from './support/stack-objects.js';
import { requireVar, withoutStackRunner } from './support/stack.js';
import { TcpProxy } from './support/tcp-proxy.js';
import type { DbInstance } from '../runner/engine/instance-list.js';

type Status = Record<string, unknown>;

const X509_SECRET = 'db-x509';
const CA_SECRET = 'db-ca';
const CLIENT_SECRET = 'db-client';

function tlsFile(name: string): string {
  return readFileSync(join(requireVar('MARIADB_TLS_DIR', 'MariaDB with TLS (hack/mariadb.sh)'), name), 'utf8');
}

/** The X.509 account, the stack's CA (or `ca`), and the client certificate, as Secrets. */
async function createTlsSecrets(ns: TestNamespace, ca = tlsFile('ca.crt')): Promise<void> {
  const core = kube().core;
  const username = requireVar('MARIADB_TLS_USER', 'MariaDB with TLS (hack/mariadb.sh)');
  const password = requireVar('MARIADB_PASSWORD', 'MariaDB');
  const bodies: V1Secret[] = [
    { metadata: { name: X509_SECRET }, stringData: { username, password } },
    { metadata: { name: CA_SECRET }, stringData: { 'ca.crt': ca } },
    {
      metadata: { name: CLIENT_SECRET },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': tlsFile('client.crt'), 'tls.key': tlsFile('client.key') },
    },
  ];
  for (const body of bodies) await core.createNamespacedSecret({ namespace: ns.name, body });
}

/** A stack Cluster that connects over TLS, as `account` ('x509': the REQUIRE X509 account). */
function tlsCluster(name: string, topology: StackTopology, path: string, account: 'x509' | 'plain'): KubeObject {
  const cluster = stackCluster(name, topology, minioStore(path));
  const spec = cluster.spec as Record<string, unknown>;
  spec['credentials'] = {
    secretRef: { name: account === 'x509' ? X509_SECRET : 'db' },
    tls: { caSecretRef: { name: CA_SECRET, key: 'ca.crt' }, clientCertSecretRef: { name: CLIENT_SECRET } },
  };
  return cluster;
}

/** The same Cluster with its one instance behind `proxy`. */
function behind(cluster: KubeObject, proxy: TcpProxy): KubeObject {
  const spec = cluster.spec as Record<string, unknown>;
  const name = cluster.metadata.name ?? '';
  spec['instances'] = { static: [{ name: `${name}-0`, host: '127.0.0.1', port: proxy.port }] };
  return cluster;
}

async function sslAccepts(instance: DbInstance): Promise<number> {
  const [row] = await withConnection(instance, (c) => c.query("SHOW GLOBAL STATUS LIKE 'Ssl_accepts'"));
  return Number(row?.['Value']);
}

async function failedBackup(ns: TestNamespace, cluster: KubeObject): Promise<Status> {
  await ns.create('clusters', cluster);
  await ns.create('backups', backupOf('b1', cluster.metadata.name ?? '', { method: 'mariadb-dump' }));
  const status = (await waitForPhase(ns, 'b1', ['completed', 'failed'], 120_000)).status ?? {};
  assert.equal(status['phase'], 'failed', `the Backup should have been refused: ${JSON.stringify(status)}`);
  return status;
}

/** Neither the account nor the password crossed the relay in the clear. */
function assertNothingRevealed(proxy: TcpProxy, user: string): void {
  const sent = proxy.clientBytes;
  assert.ok(proxy.connections > 0, 'the worker never reached the relay');
  assert.ok(!sent.includes(Buffer.from(user)), `the account name '${user}' was sent in the clear: a plaintext login`);
  assert.ok(
    !sent.includes(Buffer.from(requireVar('MARIADB_PASSWORD', 'MariaDB'))),
    'the password was sent in the clear',
  );
}

describe('database TLS (real API server, MariaDB with TLS, Galera without, MinIO)', function () {
  this.timeout(300_000);
  withoutStackRunner();
  let ns: TestNamespace;
  let path = '';
  let runner: RunningRunner | undefined;
  let proxy: TcpProxy | undefined;
  namespaceAndPathPerTest((created, its) => ((ns = created), (path = its)));

  beforeEach(async function () {
    await createStackSecrets(ns);
    runner = await startNamespaceRunner(ns);
  });

  afterEach(async function () {
    await runner?.stop();
    await proxy?.close();
    proxy = undefined;
  });

  it('a Backup and a Restore complete over verified TLS as an account that REQUIREs X509', async function () {
    await createTlsSecrets(ns);
    await emptyRestoreTarget();
    try {
      await ns.create('clusters', tlsCluster('src', 'standalone', path, 'x509'));
      await ns.create('clusters', tlsCluster('dst', 'restore-target', path, 'x509'));
      const sourceBefore = await sslAccepts(standalone());
      await ns.create('backups', backupOf('b1', 'src', { method: 'mariadb-dump' }));
      const backup = (await waitForPhase(ns, 'b1', ['completed', 'failed'], 120_000)).status ?? {};
      assert.equal(backup['phase'], 'completed', JSON.stringify(backup));
      // The worker's own connection and mariadb-dump's: each a TLS handshake the server accepted.
      assert.ok((await sslAccepts(standalone())) - sourceBefore >= 2, 'fewer TLS connections than the backup makes');

      const targetBefore = await sslAccepts(restoreTarget());
      const restore: KubeObject = {
        apiVersion: 'lifeboat.dev/v1alpha1',
        kind: 'Restore',
        metadata: { name: 'r1' },
        spec: { cluster: { name: 'dst' }, backup: { name: 'b1' } },
      };
      await ns.create('restores', restore);
      const restored = (await waitForRecord(ns, 'restores', 'r1', ['completed', 'failed'], 120_000)).status ?? {};
      assert.equal(restored['phase'], 'completed', JSON.stringify(restored));
      assert.ok((await sslAccepts(restoreTarget())) - targetBefore >= 2, 'the SQL client did not connect over TLS');
    } finally {
      await emptyRestoreTarget();
    }
  });

  it('a CA that did not sign the server certificate: ConnectionFailed saying to fix caSecretRef; no login', async function () {
    await createTlsSecrets(ns, readFileSync(requireVar('LIFEBOAT_WEBHOOK_CA', 'the Lifeboat webhook'), 'utf8'));
    proxy = await TcpProxy.start({
      targetHost: '127.0.0.1',
      targetPort: Number(requireVar('MARIADB_PORT', 'MariaDB')),
      record: true,
    });
    const status = await failedBackup(ns, behind(tlsCluster('src', 'standalone', path, 'x509'), proxy));
    assert.equal(status['reason'], 'ConnectionFailed', JSON.stringify(status));
    assert.match(
      String(status['error']),
      /certificate is not trusted.*spec\.credentials\.tls\.caSecretRef of Cluster src/,
    );
    assertNothingRevealed(proxy, requireVar('MARIADB_TLS_USER', 'MariaDB with TLS (hack/mariadb.sh)'));
  });

  it('tls set and a server without TLS (a Galera member): refused at connect, never a plaintext login', async function () {
    await createTlsSecrets(ns);
    const [node] = galeraNodes();
    if (!node) throw new Error('Galera: no nodes in GALERA_PORTS');
    proxy = await TcpProxy.start({ targetHost: node.host, targetPort: node.port, record: true });
    // The plain account exists on the Galera nodes: a client that fell back to plaintext would log in.
    const status = await failedBackup(ns, behind(tlsCluster('galera', 'standalone', path, 'plain'), proxy));
    assert.equal(status['reason'], 'ConnectionFailed', JSON.stringify(status));
    assert.match(String(status['error']), /Cluster galera sets spec\.credentials\.tls but the server offers no TLS/);
    assertNothingRevealed(proxy, requireVar('MARIADB_USER', 'MariaDB'));
  });
});

import assert from 'node:assert/strict';
import { backup, cluster, policiesOf, reviewWith } from '../helpers.js';

function restoreOf(name: string): Record<string, unknown> {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Restore',
    metadata: { name: 'r' },
    spec: { cluster: { name: 'shop' }, backup: { name } },
  };
}

function severities(result: ReturnType<typeof reviewWith>): string[] {
  return result.findings.map((f) => `${f.policy}:${f.severity}`);
}

describe('reference policies (fake neighbours)', () => {
  it('LB602 denies a missing or unfinished Backup against the API, warns offline', () => {
    const world = { objects: [cluster()] };
    // A logical Backup, so LB107 (physical backups are not restored into a running Cluster) stays out of it.
    const logical = { method: 'mariadb-dump' };
    assert.deepEqual(severities(reviewWith(restoreOf('gone'), { ...world, authoritative: true })), ['LB602:deny']);
    assert.deepEqual(severities(reviewWith(restoreOf('gone'), world)), ['LB602:warn']);
    const running = { ...backup(logical, { name: 'b1' }), status: { phase: 'running', ...logical } };
    assert.deepEqual(severities(reviewWith(restoreOf('b1'), { objects: [cluster(), running], authoritative: true })), [
      'LB602:deny',
    ]);
    const done = { ...backup(logical, { name: 'b1' }), status: { phase: 'completed', ...logical } };
    assert.deepEqual(severities(reviewWith(restoreOf('b1'), { objects: [cluster(), done], authoritative: true })), []);
    const noStatus = backup(logical, { name: 'b1' });
    assert.deepEqual(
      severities(reviewWith(restoreOf('b1'), { objects: [cluster(), noStatus] })),
      [],
      'offline manifests carry no status',
    );
    assert.deepEqual(severities(reviewWith(restoreOf('b1'), { objects: [cluster(), noStatus], authoritative: true })), [
      'LB602:deny',
    ]);
  });

  it('LB602 denies an expired Backup (retention deleted its objects), saying so', () => {
    const logical = { method: 'mariadb-dump' };
    const expired = {
      ...backup(logical, { name: 'b1' }),
      status: {
        phase: 'completed',
        ...logical,
        conditions: [
          {
            type: 'Expired',
            status: 'True',
            reason: 'RetentionExpired',
            message: 'keep 2',
            lastTransitionTime: '2026-12-01T00:00:00Z',
          },
        ],
      },
    };
    const result = reviewWith(restoreOf('b1'), { objects: [cluster(), expired], authoritative: true });
    assert.deepEqual(severities(result), ['LB602:deny']);
    assert.match(
      result.findings[0]?.message ?? '',
      /^Backup b1 expired: retention deleted its archive and metadata\.json \(keep 2\); name a newer completed Backup$/,
    );
  });

  it('LB602 on an update: a Backup name that did not change is not checked again (it may be gone since the restore ran)', () => {
    const world = { objects: [cluster()], authoritative: true };
    const labelled = { ...restoreOf('gone'), metadata: { name: 'r', labels: { synced: 'again' } } };
    assert.deepEqual(severities(reviewWith(labelled, { ...world, old: restoreOf('gone') })), []);
    const bootstrapped = cluster({ bootstrap: { recovery: { backup: { name: 'gone' } } } });
    const edited = cluster({
      bootstrap: { recovery: { backup: { name: 'gone' } } },
      backup: { retention: { keep: 3 } },
    });
    assert.deepEqual(
      policiesOf(reviewWith(edited, { ...world, old: bootstrapped })).filter((p) => p === 'LB602'),
      [],
    );
    assert.match(
      reviewWith(cluster({ bootstrap: { recovery: { backup: { name: 'gone' } } } }), world).findings.find(
        (f) => f.policy === 'LB602',
      )?.message ?? '',
      /name a completed Backup \(to bootstrap from the bucket instead, set spec\.bootstrap\.recovery\.source to an externalClusters entry, and backupID\)$/,
    );
    // A name that changed is new, and checked.
    assert.deepEqual(severities(reviewWith(restoreOf('gone'), { ...world, old: restoreOf('other') })), ['LB602:deny']);
    assert.match(
      reviewWith(restoreOf('gone'), world).findings[0]?.message ?? '',
      /does not exist in namespace default; name a completed Backup \(a restore that ran before its Backup was deleted need not run again: drop it from Git, or restore with source and backupID\)$/,
    );
  });

  it('LB603 warns, in both modes, when the Cluster is missing', () => {
    assert.deepEqual(severities(reviewWith(backup(), { authoritative: true })), ['LB603:warn']);
    assert.match(
      reviewWith(backup(), { authoritative: true }).findings[0]?.message ?? '',
      /does not exist in namespace default/,
    );
  });

  it('LB603 on a Restore says it waits for the Cluster, as the runner does', () => {
    const result = reviewWith(restoreOf('b1'), { authoritative: true });
    const lb603 = result.findings.find((f) => f.policy === 'LB603');
    assert.equal(
      lb603?.message,
      'Cluster shop does not exist in namespace default; cluster-dependent checks were skipped, and the Restore waits (pending, WaitingForCluster) until it exists',
    );
  });

  it('LB601 checks keys of known Secrets, with the defaults username/password', () => {
    const secrets = { 'default/shop-db': { keys: ['username', 'password'] } };
    assert.deepEqual(policiesOf(reviewWith(cluster(), { secrets })), []);
    const wrong = reviewWith(cluster(), { secrets: { 'default/shop-db': { keys: ['user', 'password'] } } });
    assert.deepEqual(policiesOf(wrong), ['LB601']);
    assert.match(wrong.findings[0]?.message ?? '', /Secret shop-db has no key username \(it has user, password\)/);
    assert.deepEqual(
      policiesOf(reviewWith(cluster(), { secrets: { 'default/shop-db': { keys: [], anyKey: true } } })),
      [],
    );
  });

  it('LB601 warns when the Secret sits in another namespace', () => {
    const result = reviewWith(cluster(), { secrets: { 'vault/shop-db': { keys: ['username', 'password'] } } });
    assert.deepEqual(severities(result), ['LB601:warn']);
    assert.match(result.findings[0]?.message ?? '', /is in namespace vault, but Lifeboat reads Secrets from default/);
  });

  it('LB601 checks object store credential keys', () => {
    const creds = { accessKeyId: { name: 's3', key: 'id' }, secretAccessKey: { name: 's3', key: 'secret' } };
    const doc = cluster({ backup: { objectStore: { bucket: 'bkt', credentials: creds } } });
    const result = reviewWith(doc, { secrets: { 'default/s3': { keys: ['id'] } } });
    assert.deepEqual(
      result.findings.map((f) => f.path.join('.')),
      ['spec.backup.objectStore.credentials.secretAccessKey'],
    );
  });

  it('LB604 checks a named target against static instances', () => {
    assert.deepEqual(policiesOf(reviewWith(backup({ target: 'shop-9' }), { objects: [cluster()] })), ['LB604']);
    assert.deepEqual(policiesOf(reviewWith(backup({ target: 'shop-0' }), { objects: [cluster()] })), []);
    assert.deepEqual(policiesOf(reviewWith(backup({ target: 'primary' }), { objects: [cluster()] })), []);
    const bySelector = cluster({ instances: { selector: { matchLabels: { app: 'db' } } } });
    assert.deepEqual(
      policiesOf(reviewWith(backup({ target: 'db-2' }), { objects: [bySelector] })),
      [],
      'pod names are not known offline',
    );
  });

  it('LB601 denies a missing Secret only where Secrets can be listed', () => {
    assert.deepEqual(severities(reviewWith(cluster(), { secretsListed: true })), ['LB601:deny']);
    assert.match(
      reviewWith(cluster(), { secretsListed: true }).findings[0]?.message ?? '',
      /Secret shop-db does not exist in namespace default; create it/,
    );
    assert.deepEqual(severities(reviewWith(cluster())), [], 'a folder of manifests rarely holds the Secrets');
  });
});

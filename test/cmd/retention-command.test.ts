// `lifeboat retention plan`: the lines a user reads, against the API server (a fake one) and against a
// bucket (a fake S3 with a Cluster manifest's retention), and the binary's exit codes and one-line
// messages for bad input. Nothing is ever changed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { retentionPlanOutput, type PlanSources } from '../../cmd/retention-command.js';
import type { Cluster } from '../../crds/kinds.js';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';
import { FakeS3 } from '../runner/data-path/fake-s3.js';
import {
  BUCKET as FIXTURE_BUCKET,
  putBackup as putBucketBackup,
  sampleMetadata,
} from '../runner/restores/backup-fixtures.js';
import { FakeRetentionApi, NOW, putBackup, putCluster } from '../runner/retention/retention-fixtures.js';

const BIN = join(PACKAGE_ROOT, 'dist', 'cmd', 'lifeboat.js');

function lifeboat(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    cwd: PACKAGE_ROOT,
    env: { PATH: process.env['PATH'], KUBECONFIG: '/nonexistent' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('retention plan command', () => {
  it('against the API server (fake): each Backup with what happens and why, and a summary', async () => {
    const api = new FakeRetentionApi();
    const s3 = new FakeS3();
    putCluster(api, { keep: 2 });
    for (const [name, daysAgo] of [
      ['b1', 1],
      ['b2', 2],
      ['b3', 3],
    ] as const)
      putBackup(api, s3, { name, daysAgo });
    putBackup(api, s3, { name: 'g4', daysAgo: 4, origin: 'git' });
    putBackup(api, s3, { name: 'b5', daysAgo: 5 });
    api.put('Restore', {
      metadata: { name: 'r1', namespace: 'shop' },
      spec: { cluster: { name: 'db' }, backup: { name: 'b5' } },
    });
    const before = JSON.stringify([...api.objects.entries()]);
    const sources: PlanSources = { now: () => NOW, kube: async () => api };
    const text = await retentionPlanOutput({ namespace: 'shop', cluster: 'db' }, sources);
    assert.equal(
      text,
      [
        'retention of Cluster shop/db (keep 2) as of 2026-12-03T12:00:00.000Z:',
        'ACTION  BACKUP  BACKUP ID         PHASE      WHY',
        'keep    b1      20261202T120000Z  completed  kept: newest completed backup',
        'keep    b2      20261201T120000Z  completed  kept: within keep 2 (2nd newest)',
        'delete  b3      20261130T120000Z  completed  beyond keep 2 (3rd newest)',
        'expire  g4      20261129T120000Z  completed  beyond keep 2 (4th newest)',
        'keep    b5      20261128T120000Z  completed  kept: used by Restore shop/r1',
        '1 to delete, 1 to expire (objects deleted, the Backup from Git stays), 3 kept',
        'this is a plan: nothing was changed',
        '',
      ].join('\n'),
    );
    assert.equal(JSON.stringify([...api.objects.entries()]), before, 'nothing changed');
    const json = JSON.parse(
      await retentionPlanOutput({ namespace: 'shop', cluster: 'db', output: 'json' }, sources),
    ) as {
      decisions: { action: string; candidate: { name: string } }[];
    };
    assert.deepEqual(
      json.decisions.map((d) => `${d.action} ${d.candidate.name}`),
      ['keep b1', 'keep b2', 'delete b3', 'expire g4', 'keep b5'],
    );
  });

  it('--keep and --max-age override the Cluster; without any rule it says what to give', async () => {
    const api = new FakeRetentionApi();
    const s3 = new FakeS3();
    putCluster(api);
    for (const [name, daysAgo] of [
      ['b1', 1],
      ['b2', 2],
      ['b9', 9],
    ] as const)
      putBackup(api, s3, { name, daysAgo });
    const sources: PlanSources = { now: () => NOW, kube: async () => api };
    const text = await retentionPlanOutput({ namespace: 'shop', cluster: 'db', maxAge: '7d' }, sources);
    assert.match(text, /\ndelete {2}b9 .* older than maxAge 7d \(completed 2026-11-24T12:00:00\.000Z\)\n/);
    assert.match(text, /\nkeep {4}b2 .* kept: younger than maxAge 7d/);
    await assert.rejects(retentionPlanOutput({ namespace: 'shop', cluster: 'db' }, sources), {
      message: 'Cluster shop/db has no spec.backup.retention; give --keep N and/or --max-age DURATION',
    });
    await assert.rejects(retentionPlanOutput({ namespace: 'shop', cluster: 'nope', keep: 1 }, sources), {
      message: 'Cluster shop/nope not found; check --namespace and --cluster',
    });
    await assert.rejects(retentionPlanOutput({ namespace: 'shop', keep: 1 }, sources), /--namespace needs --cluster/);
    await assert.rejects(
      retentionPlanOutput({ namespace: 'shop', cluster: 'db', maxAge: 'soon' }, sources),
      /write e\.g\. 7d/,
    );
  });

  it("against a bucket (fake S3): the folders it holds, under the manifest Cluster's retention", async () => {
    const s3 = new FakeS3();
    const ids = ['20261202T000000Z', '20261201T000000Z', '20261130T000000Z'];
    for (const [i, backupId] of ids.entries()) {
      const metadata = sampleMetadata({ backupName: `shop-${i}`, backupId }, Buffer.from('dump'));
      putBucketBackup(
        s3,
        { ...metadata, stoppedAt: `${backupId.slice(0, 4)}-${backupId.slice(4, 6)}-${backupId.slice(6, 8)}T00:00:00Z` },
        Buffer.from('dump'),
      );
    }
    const manifestCluster = {
      metadata: { name: 'shop' },
      spec: { backup: { retention: { keep: 1 } } },
    } as unknown as Cluster;
    const sources: PlanSources = {
      now: () => NOW,
      store: async () => ({
        client: s3.client(),
        bucket: FIXTURE_BUCKET,
        path: 'p',
        cluster: 'shop',
        where: 's3://lifeboat/p/shop/',
        manifestCluster,
      }),
    };
    const text = await retentionPlanOutput({ clusterManifest: 'c.yaml' }, sources);
    assert.match(text, /^retention of s3:\/\/lifeboat\/p\/shop\/ \(keep 1\) as of 2026-12-03T12:00:00.000Z:\n/);
    assert.match(text, /\nkeep {4}shop-0 +20261202T000000Z {2}completed {2}kept: newest completed backup\n/);
    assert.match(text, /\ndelete {2}shop-1 +20261201T000000Z {2}completed {2}beyond keep 1 \(2nd newest\)\n/);
    assert.match(text, /\ndelete {2}shop-2 +20261130T000000Z {2}completed {2}beyond keep 1 \(3rd newest\)\n/);
    assert.match(text, /\n2 to delete, 0 to expire .*, 1 kept\n/);
    assert.equal(s3.count('DeleteObject'), 0, 'nothing deleted');
  });

  it('against a bucket (fake S3): a folder whose metadata.json is under Object Lock is kept, saying until when', async () => {
    const s3 = new FakeS3();
    const ids = ['20261202T000000Z', '20261201T000000Z'];
    for (const [i, backupId] of ids.entries()) {
      const metadata = sampleMetadata({ backupName: `shop-${i}`, backupId }, Buffer.from('dump'));
      putBucketBackup(s3, { ...metadata, stoppedAt: '2026-12-01T00:00:00Z' }, Buffer.from('dump'));
    }
    const until = new Date('2026-12-05T00:00:00Z');
    for (const [key, stored] of s3.objects) {
      if (key.includes('/shop-1/') && key.endsWith('metadata.json'))
        s3.objects.set(key, { ...stored, input: { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until } });
    }
    const sources: PlanSources = {
      now: () => NOW,
      store: async () => ({
        client: s3.client(),
        bucket: FIXTURE_BUCKET,
        path: 'p',
        cluster: 'shop',
        where: 's3://lifeboat/p/shop/',
        manifestCluster: {
          metadata: { name: 'shop' },
          spec: { backup: { retention: { keep: 1 } } },
        } as unknown as Cluster,
      }),
    };
    const text = await retentionPlanOutput({ clusterManifest: 'c.yaml' }, sources);
    assert.match(
      text,
      /\nkeep +shop-1 +20261201T000000Z {2}completed {2}kept: under Object Lock until 2026-12-05T00:00:00\.000Z \(beyond keep 1 \(2nd newest\)\); retention removes it after that\n/,
    );
  });

  it('the binary: bad input gets one line and exit 2, no stack trace', () => {
    const noStore = lifeboat(['retention', 'plan', '--keep', '2']);
    assert.equal(noStore.status, 2);
    assert.match(noStore.stderr, /^lifeboat: name the object store: --bucket and --cluster/);
    const badKeep = lifeboat(['retention', 'plan', '--bucket', 'b', '--cluster', 'c', '--keep', 'two']);
    assert.equal(badKeep.status, 2);
    assert.match(badKeep.stderr, /argument 'two' is invalid\. write a whole number of at least 1\./);
    const badAge = lifeboat(['retention', 'plan', '--namespace', 'shop', '--cluster', 'db', '--max-age', 'soon']);
    assert.equal(badAge.status, 2);
    assert.match(badAge.stderr, /write a duration such as 7d/);
    const noKubeconfig = lifeboat(['retention', 'plan', '--namespace', 'shop', '--cluster', 'db']);
    assert.equal(noKubeconfig.status, 2);
    assert.match(noKubeconfig.stderr, /^lifeboat: cannot load the kubeconfig: .*set KUBECONFIG to a readable file\n$/);
    for (const r of [noStore, badKeep, badAge, noKubeconfig]) {
      assert.equal(r.stdout, '');
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });
});

// The Job builder is pure: table-driven cases over Backups, Clusters and options.
import assert from 'node:assert/strict';
import type { V1EnvVar, V1Job } from '@kubernetes/client-node';
import type { Cluster } from '../../../crds/kinds.js';
import { buildWorkerJob, workerJobName, type WorkerJobOptions } from '../../../runner/executors/worker-job.js';
import { backupWork, WORKER_MEMORY_ENV, type StoredBackup } from '../../../runner/executors/executor.js';
import { bootstrapKind, restoreKind } from '../../../runner/restores/restore-reconciler.js';

const objectStore = {
  bucket: 'lifeboat',
  credentials: {
    accessKeyId: { name: 'shop-s3', key: 'ACCESS_KEY_ID' },
    secretAccessKey: { name: 'shop-s3', key: 'SECRET_ACCESS_KEY' },
  },
};

function cluster(overrides: Partial<Cluster['spec']> = {}): Cluster {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'shop', namespace: 'prod' },
    spec: {
      engine: 'mariadb',
      topology: 'standalone',
      instances: { static: [{ name: 'shop-0', host: 'db' }] },
      credentials: { secretRef: { name: 'shop-db' } },
      backup: { objectStore },
      ...overrides,
    },
  };
}

function backup(name = 'nightly', spec: Partial<StoredBackup['spec']> = {}): StoredBackup {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Backup',
    metadata: { name, namespace: 'prod', uid: 'b-uid-1' },
    spec: { cluster: { name: 'shop' }, ...spec },
  };
}

const OPTIONS: WorkerJobOptions = { image: 'ghcr.io/lifeboat/lifeboat:0.1.0' };

const container = (job: V1Job) => job.spec?.template.spec?.containers[0];
const envNamed = (job: V1Job, name: string): V1EnvVar | undefined => container(job)?.env?.find((e) => e.name === name);

interface Case {
  readonly title: string;
  readonly backup?: StoredBackup;
  readonly cluster?: Cluster;
  readonly options?: Partial<WorkerJobOptions>;
  readonly check: (job: V1Job) => void;
}

const CASES: Case[] = [
  {
    title: 'is owned by the Backup, as its controller, blocking its deletion',
    check: (job) =>
      assert.deepEqual(job.metadata?.ownerReferences, [
        {
          apiVersion: 'lifeboat.dev/v1alpha1',
          kind: 'Backup',
          name: 'nightly',
          uid: 'b-uid-1',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]),
  },
  {
    title: 'runs `lifeboat worker backup <ns>/<name>` once, never retried, within a deadline, cleaned up after',
    check: (job) => {
      assert.deepEqual(container(job)?.command, ['lifeboat']);
      assert.deepEqual(container(job)?.args, ['worker', 'backup', 'prod/nightly', '--uid', 'b-uid-1']);
      assert.equal(job.spec?.backoffLimit, 0);
      assert.equal(job.spec?.template.spec?.restartPolicy, 'Never');
      assert.equal(job.spec?.template.spec?.terminationGracePeriodSeconds, 660, 'longer than the wait for Synced');
      assert.equal(job.spec?.activeDeadlineSeconds, 21600);
      assert.equal(job.spec?.ttlSecondsAfterFinished, 86400);
    },
  },
  {
    title: 'takes deadline, TTL, service account, resources, command and user from the options',
    options: {
      activeDeadlineSeconds: 600,
      ttlSecondsAfterFinished: 60,
      serviceAccountName: 'lifeboat-worker',
      resources: { requests: { cpu: '1' } },
      command: ['/bin/lifeboat'],
      runAsUser: 1000,
    },
    check: (job) => {
      assert.equal(job.spec?.activeDeadlineSeconds, 600);
      assert.equal(job.spec?.ttlSecondsAfterFinished, 60);
      assert.equal(job.spec?.template.spec?.serviceAccountName, 'lifeboat-worker');
      assert.deepEqual(container(job)?.resources, { requests: { cpu: '1' } });
      assert.deepEqual(container(job)?.command, ['/bin/lifeboat']);
      assert.equal(job.spec?.template.spec?.securityContext?.runAsUser, 1000);
    },
  },
  {
    title: 'reads database credentials from the Cluster Secret by reference, with the default keys',
    check: (job) => {
      assert.deepEqual(envNamed(job, 'LIFEBOAT_DB_USERNAME')?.valueFrom, {
        secretKeyRef: { name: 'shop-db', key: 'username' },
      });
      assert.deepEqual(envNamed(job, 'LIFEBOAT_DB_PASSWORD')?.valueFrom, {
        secretKeyRef: { name: 'shop-db', key: 'password' },
      });
    },
  },
  {
    title: 'spec.credentials.tls: the CA key and the client tls.crt/tls.key by reference, never their values',
    cluster: cluster({
      credentials: {
        secretRef: { name: 'shop-db' },
        tls: { caSecretRef: { name: 'db-ca', key: 'ca.crt' }, clientCertSecretRef: { name: 'db-client' } },
      },
    }),
    check: (job) => {
      assert.deepEqual(envNamed(job, 'LIFEBOAT_DB_TLS_CA')?.valueFrom, {
        secretKeyRef: { name: 'db-ca', key: 'ca.crt' },
      });
      assert.deepEqual(envNamed(job, 'LIFEBOAT_DB_TLS_CERT')?.valueFrom, {
        secretKeyRef: { name: 'db-client', key: 'tls.crt' },
      });
      assert.deepEqual(envNamed(job, 'LIFEBOAT_DB_TLS_KEY')?.valueFrom, {
        secretKeyRef: { name: 'db-client', key: 'tls.key' },
      });
    },
  },
  {
    title: 'honours usernameKey and passwordKey',
    cluster: cluster({ credentials: { secretRef: { name: 'db' }, usernameKey: 'user', passwordKey: 'pass' } }),
    check: (job) =>
      assert.deepEqual(envNamed(job, 'LIFEBOAT_DB_PASSWORD')?.valueFrom, { secretKeyRef: { name: 'db', key: 'pass' } }),
  },
  {
    title: "object store keys come from the Backup's own objectStore before the Cluster's",
    backup: backup('nightly', {
      objectStore: {
        bucket: 'other',
        credentials: {
          accessKeyId: { name: 'own', key: 'id' },
          secretAccessKey: { name: 'own', key: 'secret' },
          sessionToken: { name: 'own', key: 'token' },
        },
      },
    }),
    check: (job) => {
      assert.deepEqual(envNamed(job, 'LIFEBOAT_S3_ACCESS_KEY_ID')?.valueFrom, {
        secretKeyRef: { name: 'own', key: 'id' },
      });
      assert.deepEqual(envNamed(job, 'LIFEBOAT_S3_SESSION_TOKEN')?.valueFrom, {
        secretKeyRef: { name: 'own', key: 'token' },
      });
    },
  },
  {
    title: 'no object store keys with IAM inheritance',
    cluster: cluster({ backup: { objectStore: { bucket: 'b', inheritFromIAMRole: true } } }),
    check: (job) => assert.equal(envNamed(job, 'LIFEBOAT_S3_ACCESS_KEY_ID'), undefined),
  },
  {
    title: 'never carries a literal credential value',
    check: (job) => {
      const literal = (container(job)?.env ?? []).filter((e) => e.value !== undefined).map((e) => e.name);
      assert.deepEqual(literal, Object.keys(WORKER_MEMORY_ENV));
    },
  },
  {
    title: "runAsUser 'cluster': no user or group set, so the cluster assigns them (OpenShift's restricted SCC)",
    options: { runAsUser: 'cluster' },
    check: (job) => {
      const context = job.spec?.template.spec?.securityContext;
      assert.equal(context?.runAsNonRoot, true);
      assert.equal(context?.runAsUser, undefined);
      assert.equal(context?.runAsGroup, undefined);
      assert.deepEqual(context?.seccompProfile, { type: 'RuntimeDefault' });
    },
  },
  {
    title: 'runs the worker with the memory settings of a worker process',
    check: (job) => {
      for (const [name, value] of Object.entries(WORKER_MEMORY_ENV)) assert.equal(envNamed(job, name)?.value, value);
    },
  },
  {
    title: 'runs as non-root, without privilege escalation, read-only root, no capabilities, scratch /tmp',
    check: (job) => {
      const pod = job.spec?.template.spec;
      assert.equal(pod?.securityContext?.runAsNonRoot, true);
      assert.deepEqual(pod?.securityContext?.seccompProfile, { type: 'RuntimeDefault' });
      assert.deepEqual(container(job)?.securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      assert.deepEqual(container(job)?.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
      assert.ok(container(job)?.resources?.requests, 'resource requests by default');
    },
  },
  {
    title: 'labels the Job and its pod with the cluster and the backup',
    check: (job) => {
      assert.equal(job.metadata?.labels?.['lifeboat.dev/cluster'], 'shop');
      assert.equal(job.metadata?.labels?.['lifeboat.dev/backup'], 'nightly');
      assert.deepEqual(job.spec?.template.metadata?.labels, job.metadata?.labels);
    },
  },
  {
    title: 'a Backup name too long for a label: no backup label, a Job name of at most 63 characters',
    backup: backup(`nightly.${'x'.repeat(100)}`),
    check: (job) => {
      assert.equal(job.metadata?.labels?.['lifeboat.dev/backup'], undefined);
      assert.ok((job.metadata?.name ?? '').length <= 63);
      assert.match(job.metadata?.name ?? '', /^lifeboat-backup-nightly-x+-[0-9a-f]{8}$/);
    },
  },
];

describe('backup Job builder', () => {
  for (const c of CASES) {
    it(c.title, () => {
      c.check(buildWorkerJob(backupWork(c.backup ?? backup()), c.cluster ?? cluster(), { ...OPTIONS, ...c.options }));
    });
  }

  it('refuses a Backup without uid: the owner reference needs one', () => {
    const b = backup();
    delete b.metadata.uid;
    assert.throws(() => buildWorkerJob(backupWork(b), cluster(), OPTIONS), /has no uid/);
  });

  it('names differ for Backups of the same name in other namespaces, and stay stable', () => {
    const other = { ...backup(), metadata: { ...backup().metadata, namespace: 'staging' } };
    assert.notEqual(workerJobName(backupWork(backup())), workerJobName(backupWork(other)));
    assert.equal(workerJobName(backupWork(backup())), workerJobName(backupWork(backup())));
  });
});

describe('restore Job builder: the same builder for every kind of work', () => {
  const restore = {
    apiVersion: 'lifeboat.dev/v1alpha1' as const,
    kind: 'Restore' as const,
    metadata: { name: 'from-shop', namespace: 'prod', uid: 'r-uid-1' },
    spec: { cluster: { name: 'orders' }, source: 'shop' },
  };
  const sourceStore = {
    bucket: 'old-bucket',
    credentials: {
      accessKeyId: { name: 'old-s3', key: 'id' },
      secretAccessKey: { name: 'old-s3', key: 'secret' },
    },
  };
  const orders = { ...cluster({ externalClusters: [{ name: 'shop', objectStore: sourceStore }] }) };
  orders.metadata = { name: 'orders', namespace: 'prod' };

  it('runs `worker restore`, is owned by the Restore, and mounts the source store’s keys', () => {
    const job = buildWorkerJob(restoreKind({}).work(restore), orders, OPTIONS);
    assert.match(job.metadata?.name ?? '', /^lifeboat-restore-from-shop-[0-9a-f]{8}$/);
    assert.deepEqual(container(job)?.args, ['worker', 'restore', 'prod/from-shop', '--uid', 'r-uid-1']);
    assert.equal(job.metadata?.ownerReferences?.[0]?.kind, 'Restore');
    assert.equal(job.metadata?.ownerReferences?.[0]?.uid, 'r-uid-1');
    assert.equal(job.metadata?.labels?.['lifeboat.dev/restore'], 'from-shop');
    assert.equal(job.metadata?.labels?.['app.kubernetes.io/component'], 'restore-worker');
    assert.equal(envNamed(job, 'LIFEBOAT_S3_ACCESS_KEY_ID')?.valueFrom?.secretKeyRef?.name, 'old-s3');
    assert.equal(envNamed(job, 'LIFEBOAT_DB_PASSWORD')?.valueFrom?.secretKeyRef?.name, 'shop-db');
  });

  it('a Cluster bootstrap runs `worker bootstrap` and is owned by the Cluster', () => {
    const rebuilt = {
      ...orders,
      metadata: { name: 'orders', namespace: 'prod', uid: 'c-uid-1' },
      spec: { ...orders.spec, bootstrap: { recovery: { source: 'shop' } } },
    };
    const job = buildWorkerJob(bootstrapKind({}).work(rebuilt), rebuilt, OPTIONS);
    assert.deepEqual(container(job)?.args, ['worker', 'bootstrap', 'prod/orders', '--uid', 'c-uid-1']);
    assert.equal(job.metadata?.ownerReferences?.[0]?.kind, 'Cluster');
    assert.equal(envNamed(job, 'LIFEBOAT_S3_ACCESS_KEY_ID')?.valueFrom?.secretKeyRef?.name, 'old-s3');
  });
});

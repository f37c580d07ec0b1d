// Objects that point at the stack's real servers: Secrets with its generated password and MinIO
// keys, Clusters for the standalone server and the Galera nodes, and the S3 client to check
// what a backup wrote. Each test gets its own object-store path, removed afterwards.
import { createHash } from 'node:crypto';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import { createS3Client } from '../../lib/s3-client.js';
import { kube, namespacePerTest, type KubeObject, type TestNamespace } from './kube.js';
import { requireVar } from './stack.js';

export const DB_SECRET = 'db';
export const S3_SECRET = 's3';

export function minioStore(path?: string): ObjectStoreSpec {
  const endpoint = requireVar('S3_ENDPOINT', 'MinIO');
  return {
    bucket: requireVar('S3_BUCKET', 'MinIO'),
    endpoint,
    region: requireVar('S3_REGION', 'MinIO'),
    forcePathStyle: true,
    insecure: endpoint.startsWith('http://'),
    ...(path === undefined ? {} : { path }),
  };
}

export function minioClient(): S3Client {
  return createS3Client(minioStore(), {
    credentials: {
      accessKeyId: requireVar('S3_ACCESS_KEY', 'MinIO'),
      secretAccessKey: requireVar('S3_SECRET_KEY', 'MinIO'),
    },
  });
}

/** The database account and the MinIO keys, as Secrets in the test's namespace. */
export async function createStackSecrets(
  ns: TestNamespace,
  password = requireVar('MARIADB_PASSWORD', 'MariaDB'),
): Promise<void> {
  const secrets: { name: string; stringData: Record<string, string> }[] = [
    { name: DB_SECRET, stringData: { username: requireVar('MARIADB_USER', 'MariaDB'), password } },
    {
      name: S3_SECRET,
      stringData: { id: requireVar('S3_ACCESS_KEY', 'MinIO'), secret: requireVar('S3_SECRET_KEY', 'MinIO') },
    },
  ];
  for (const { name, stringData } of secrets) {
    await kube().core.createNamespacedSecret({ namespace: ns.name, body: { metadata: { name }, stringData } });
  }
}

/** The stack's servers as Clusters: the standalone one, the Galera nodes, the empty restore target. */
export type StackTopology = 'standalone' | 'galera' | 'restore-target';

function stackPorts(topology: StackTopology): number[] {
  if (topology === 'galera') return requireVar('GALERA_PORTS', 'Galera').split(' ').map(Number);
  if (topology === 'restore-target') return [Number(requireVar('MARIADB_TARGET_PORT', 'the restore-target MariaDB'))];
  return [Number(requireVar('MARIADB_PORT', 'MariaDB'))];
}

/** A Cluster of the stack's servers, backing up under `path` in MinIO. */
export function stackCluster(name: string, topology: StackTopology, store: ObjectStoreSpec): KubeObject {
  const host = requireVar('MARIADB_HOST', 'MariaDB');
  const ports = stackPorts(topology);
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name },
    spec: {
      engine: 'mariadb',
      version: '10.11',
      topology: topology === 'galera' ? 'galera' : 'standalone',
      instances: { static: ports.map((port, i) => ({ name: `${name}-${i}`, host, port })) },
      credentials: { secretRef: { name: DB_SECRET } },
      backup: {
        objectStore: {
          ...store,
          credentials: {
            accessKeyId: { name: S3_SECRET, key: 'id' },
            secretAccessKey: { name: S3_SECRET, key: 'secret' },
          },
        },
      },
    },
  };
}

export function backupOf(name: string, cluster: string, spec: Record<string, unknown> = {}, metadata = {}): KubeObject {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Backup',
    metadata: { name, ...metadata },
    spec: { cluster: { name: cluster }, ...spec },
  };
}

/** Polls until the Backup's phase is one of `phases`; fails with the last status seen. */
export async function waitForPhase(
  ns: TestNamespace,
  name: string,
  phases: readonly string[],
  timeoutMs = 60_000,
): Promise<KubeObject> {
  return waitForRecord(ns, 'backups', name, phases, timeoutMs);
}

type Record_ = Record<string, unknown>;

/**
 * Polls until the phase of the object's run record is one of `phases`: status for Backups and
 * Restores, status.bootstrap for a Cluster. Fails with the last status seen.
 */
export async function waitForRecord(
  ns: TestNamespace,
  plural: 'backups' | 'restores' | 'clusters',
  name: string,
  phases: readonly string[],
  timeoutMs = 60_000,
): Promise<KubeObject> {
  const recordOf = (o: KubeObject): Record_ | undefined =>
    plural === 'clusters' ? (o.status?.['bootstrap'] as Record_ | undefined) : o.status;
  const deadline = Date.now() + timeoutMs;
  let last: KubeObject | undefined;
  while (Date.now() < deadline) {
    last = await ns.get(plural, name);
    if (phases.includes(String(recordOf(last)?.['phase']))) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `${plural} ${ns.name}/${name} did not reach ${phases.join('|')} in ${timeoutMs} ms; status ${JSON.stringify(last?.status)}`,
  );
}

export async function objectSha256(client: S3Client, bucket: string, key: string): Promise<string> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of got.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
  return hash.digest('hex');
}

export async function objectText(client: S3Client, bucket: string, key: string): Promise<string> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await got.Body?.transformToString()) ?? '';
}

/**
 * Upload IDs of the multipart uploads open for one key. MinIO lists uploads of an exact object
 * name only (a shorter prefix lists none), so callers name the archive's key.
 */
export async function openUploads(client: S3Client, bucket: string, key: string): Promise<string[]> {
  const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  return (listed.Uploads ?? []).filter((u) => u.Key === key).map((u) => u.UploadId ?? '');
}

/** The archive key of a Backup from its status.destinationPath (s3://bucket/prefix/). */
export function archiveKeyOf(status: Record<string, unknown>, extension: 'sql' | 'xbstream'): string {
  const destination = String(status['destinationPath'] ?? '');
  const match = /^s3:\/\/[^/]+\/(.*)$/.exec(destination);
  if (!match) throw new Error(`status.destinationPath is not an s3:// URL: ${destination}`);
  return `${match[1]}backup.${extension}`;
}

export async function listKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key ?? '');
}

/** Removes everything under the prefix (a test's own path). */
export async function removePrefix(client: S3Client, bucket: string, prefix: string): Promise<void> {
  const keys = await listKeys(client, bucket, prefix);
  if (keys.length === 0) return;
  await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
}

/**
 * Gives each test of the enclosing describe a namespace, an object-store path (`e2e/<ns>`) of its
 * own and the MinIO client to check what was written there, and removes namespace and path
 * afterwards. The client is made per test: at describe time the stack may not be up yet.
 */
export function namespaceAndPathPerTest(use: (ns: TestNamespace, path: string, client: S3Client) => void): void {
  let path = '';
  let client: S3Client | undefined;
  namespacePerTest((ns) => {
    path = `e2e/${ns.name}`;
    client ??= minioClient();
    use(ns, path, client);
  });
  afterEach(async function () {
    if (client) await removePrefix(client, requireVar('S3_BUCKET', 'MinIO'), `${path}/`);
  });
}

/** Creates the Cluster and a Backup `b1` of it, and waits for the Backup to finish; its status. */
export async function finishedBackup(
  ns: TestNamespace,
  cluster: KubeObject,
  spec: Record<string, unknown> = {},
  metadata = {},
): Promise<Record<string, unknown>> {
  await ns.create('clusters', cluster);
  await ns.create('backups', backupOf('b1', cluster.metadata.name ?? '', spec, metadata));
  return (await waitForPhase(ns, 'b1', ['completed', 'failed'])).status ?? {};
}

// The catalog of one cluster's backups as the bucket holds them (docs/design.md, "Restore data path"):
// what disaster recovery, `lifeboat backups list` and a Restore from `source` choose from. Nothing
// but the bucket is trusted: each metadata.json is validated, must describe the folder it sits in,
// and must name the archive beside it, which must exist with the recorded size.
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { BackupMetadataType } from '../../crds/backup-metadata-types.js';
import { archiveFileName, clusterPrefix, newerBackupFirst, parseMetadataKey } from '../../crds/object-keys.js';
import { messageOf } from '../../lib/error-message.js';
import { clientEndpoint, explainS3Error } from '../../lib/s3-client.js';
import { parseBackupMetadata } from '../data-path/backup-metadata.js';
import { DownloadFailedError } from '../work-failures.js';

export interface ListedBackup {
  readonly metadataKey: string;
  /** From the key. */
  readonly backupName: string;
  /** From the key. */
  readonly backupId: string;
  /** Present when metadata.json parsed and validated. */
  readonly metadata?: BackupMetadataType;
  /** Size of the archive metadata.json names, from the listing; undefined when it is absent. */
  readonly archiveSize?: number;
  /**
   * Empty = complete and restorable; otherwise why not, e.g. "metadata.json is not valid: …",
   * "archive … is missing", "archive is 123 bytes, metadata says 456".
   */
  readonly problems: readonly string[];
}

export interface ListBackupsOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** ObjectStore.path. */
  readonly path?: string | undefined;
  /** The key prefix the backups live under: the Cluster's name, or an externalClusters entry's. */
  readonly cluster: string;
  readonly signal?: AbortSignal | undefined;
}

/** Far above any real metadata.json; a larger object is not one and is not read. */
const MAX_METADATA_BYTES = 1024 * 1024;
/** metadata.json reads in flight at once: enough to list hundreds of backups quickly, few sockets. */
const READ_CONCURRENCY = 8;

/**
 * Every backup folder under `<path>/<cluster>/` that holds a metadata.json, newest first (backup ID,
 * then name). Rejects DownloadFailedError when the bucket cannot be listed or a metadata.json
 * cannot be read for a reason other than its content — a transient failure must not make an older
 * backup look like the newest complete one. Throws RangeError for a path or cluster that cannot
 * be part of a key.
 */
export async function listBackups(opts: ListBackupsOptions): Promise<ListedBackup[]> {
  const prefix = clusterPrefix(opts.path, opts.cluster);
  const sizes = await listSizes(opts, prefix);
  const found = [...sizes.keys()]
    .map((key) => ({ key, parsed: parseMetadataKey(key, opts.path, opts.cluster) }))
    .filter((f): f is { key: string; parsed: { backupName: string; backupId: string } } => f.parsed !== undefined);
  const listed = await mapLimited(found, READ_CONCURRENCY, async ({ key, parsed }) =>
    inspect(opts, { key, ...parsed }, sizes),
  );
  return listed.sort(newerBackupFirst);
}

/** Key → size of every object under the prefix, across all pages. */
async function listSizes(opts: ListBackupsOptions, prefix: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  let token: string | undefined;
  do {
    let page;
    try {
      page = await opts.client.send(
        new ListObjectsV2Command({ Bucket: opts.bucket, Prefix: prefix, ContinuationToken: token }),
        { abortSignal: opts.signal },
      );
    } catch (err) {
      const explained = explainS3Error(err, { bucket: opts.bucket, endpoint: await clientEndpoint(opts.client) });
      throw new DownloadFailedError(`listing s3://${opts.bucket}/${prefix} failed: ${explained}`, { cause: err });
    }
    for (const o of page.Contents ?? []) if (o.Key !== undefined) sizes.set(o.Key, o.Size ?? 0);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return sizes;
}

interface FoundMetadata {
  readonly key: string;
  readonly backupName: string;
  readonly backupId: string;
}

async function inspect(
  opts: ListBackupsOptions,
  found: FoundMetadata,
  sizes: ReadonlyMap<string, number>,
): Promise<ListedBackup> {
  const base = { metadataKey: found.key, backupName: found.backupName, backupId: found.backupId };
  const read = await readMetadata(opts, found.key, sizes.get(found.key) ?? 0);
  if (typeof read === 'string') return { ...base, problems: [read] };
  const archiveSize = sizes.get(read.objectKey);
  const problems = [...identityProblems(read, opts.cluster, found), ...archiveProblems(read, found.key, archiveSize)];
  return { ...base, metadata: read, ...(archiveSize === undefined ? {} : { archiveSize }), problems };
}

/** The parsed metadata, or a problem with its content; rejects only for failures to read it. */
async function readMetadata(
  opts: ListBackupsOptions,
  key: string,
  listedSize: number,
): Promise<BackupMetadataType | string> {
  const where = `s3://${opts.bucket}/${key}`;
  if (listedSize > MAX_METADATA_BYTES) return `metadata.json is ${listedSize} bytes, too large to be Lifeboat's`;
  let text: string;
  try {
    const got = await opts.client.send(new GetObjectCommand({ Bucket: opts.bucket, Key: key }), {
      abortSignal: opts.signal,
    });
    text = (await got.Body?.transformToString('utf8')) ?? '';
  } catch (err) {
    // Deleted between listing and reading (retention at work): that backup is simply gone.
    if ((err as { name?: unknown }).name === 'NoSuchKey') return 'metadata.json was deleted while listing';
    const explained = explainS3Error(err, {
      bucket: opts.bucket,
      endpoint: await clientEndpoint(opts.client),
      key,
    });
    throw new DownloadFailedError(`reading ${where} failed: ${explained}`, { cause: err });
  }
  try {
    return parseBackupMetadata(text, where);
  } catch (err) {
    return `metadata.json is not valid: ${messageOf(err)}`;
  }
}

/** metadata.json must describe the folder it sits in; a copied or edited one must not pass as it. */
function identityProblems(metadata: BackupMetadataType, cluster: string, found: FoundMetadata): string[] {
  const problems: string[] = [];
  if (metadata.cluster !== cluster) {
    problems.push(`metadata.json says cluster "${metadata.cluster}" but sits under "${cluster}/"`);
  }
  if (metadata.backupName !== found.backupName) {
    problems.push(`metadata.json says backup "${metadata.backupName}" but sits in folder "${found.backupName}/"`);
  }
  if (metadata.backupId !== found.backupId) {
    problems.push(`metadata.json says backup ID ${metadata.backupId} but sits in folder ${found.backupId}/`);
  }
  return problems;
}

function archiveProblems(metadata: BackupMetadataType, metadataKey: string, archiveSize: number | undefined): string[] {
  const folder = metadataKey.slice(0, metadataKey.lastIndexOf('/') + 1);
  const expected = `${folder}${archiveFileName(metadata.method, metadata.compression)}`;
  // SECURITY: a restore reads only the archive beside its metadata.json, so that whoever can write
  // one folder cannot point a restore at another cluster's (or anyone's) object.
  if (metadata.objectKey !== expected) {
    const outside = !metadata.objectKey.startsWith(folder) || metadata.objectKey.slice(folder.length).includes('/');
    return [
      outside
        ? `metadata.json names an archive outside its folder (${metadata.objectKey}); Lifeboat reads only ${expected}`
        : `metadata.json names archive ${metadata.objectKey}, but a ${metadata.method} backup with compression ${metadata.compression} is ${expected}`,
    ];
  }
  if (archiveSize === undefined) return [`archive ${expected} is missing`];
  if (archiveSize !== metadata.size) return [`archive is ${archiveSize} bytes, metadata says ${metadata.size}`];
  return [];
}

/** `fn` over `items` with at most `limit` calls running; results in input order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const at = next++;
      results[at] = await fn(items[at] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

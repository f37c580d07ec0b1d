// metadata.json in the object store (docs/design.md, backup step 4): written last, after the archive, because
// its presence is what marks a backup complete; read and checked by restores, which trust nothing
// else in the bucket.
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { METADATA_FORMAT_VERSION } from '../../crds/api-constants.js';
import type { BackupMetadataType } from '../../crds/backup-metadata-types.js';
import { loadCompiledValidators, METADATA_VALIDATOR } from '../../crds/validator-path.js';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import {
  clientEndpoint,
  encryptionParams,
  explainS3Error,
  objectLockParams,
  type ObjectLockWrite,
} from '../../lib/s3-client.js';
import { DownloadFailedError, UploadFailedError } from '../work-failures.js';

/** Far above any real metadata.json; a larger object is not one, and is not read into memory. */
const MAX_METADATA_BYTES = 1024 * 1024;

// Compiled at build time: compiling the schema in the worker took ~66 ms of every backup.
const validate = await metadataValidator();

async function metadataValidator(): Promise<ValidateFunction<BackupMetadataType>> {
  const compiled = (await loadCompiledValidators())[METADATA_VALIDATOR];
  if (!compiled) throw new Error(`the compiled validators have no ${METADATA_VALIDATOR}; run npm run build`);
  return compiled as ValidateFunction<BackupMetadataType>;
}

/** The problems with `value` as metadata.json, in words; empty when it is valid. */
export function metadataProblems(value: unknown): string[] {
  if (validate(value)) return [];
  return (validate.errors ?? []).map(describe);
}

function describe(error: ErrorObject): string {
  const field = error.instancePath ? error.instancePath.slice(1).replace(/\//g, '.') : 'the document';
  const allowed = (error.params as { allowedValue?: unknown; allowedValues?: unknown }).allowedValues;
  return `${field} ${error.message ?? 'is invalid'}${allowed === undefined ? '' : ` (${JSON.stringify(allowed)})`}`;
}

/**
 * Parses and checks the text of a metadata.json read from `where`. Throws DownloadFailedError
 * saying what is wrong: not JSON, a format this version does not know, or missing/bad fields.
 */
export function parseBackupMetadata(text: string, where: string): BackupMetadataType {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DownloadFailedError(`${where} is not JSON, so not a Lifeboat metadata.json; choose another backup`, {
      cause: err,
    });
  }
  const version = (value as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof version === 'number' && version > METADATA_FORMAT_VERSION) {
    throw new DownloadFailedError(
      `${where} has formatVersion ${version}; this Lifeboat reads ${METADATA_FORMAT_VERSION}: upgrade Lifeboat to restore it`,
    );
  }
  const problems = metadataProblems(value);
  if (problems.length > 0) {
    throw new DownloadFailedError(
      `${where} is not a valid Lifeboat metadata.json (format ${METADATA_FORMAT_VERSION}): ${problems.slice(0, 5).join('; ')}; ` +
        'it was not written by Lifeboat or is damaged: choose another backup',
    );
  }
  return value as BackupMetadataType;
}

export interface MetadataObject {
  readonly client: S3Client;
  readonly bucket: string;
  /** From crds/object-keys metadataKey. */
  readonly key: string;
}

export interface WriteMetadataOptions extends MetadataObject {
  readonly metadata: BackupMetadataType;
  readonly serverSideEncryption?: ObjectStoreSpec['serverSideEncryption'];
  /** The archive's lock: metadata.json is locked as long as the archive it describes. */
  readonly objectLock?: ObjectLockWrite | undefined;
}

/**
 * Writes metadata.json. Call it only after the archive upload succeeded. Invalid metadata is
 * refused before writing: a backup marked complete that no restore can read is worse than a
 * failed one. The object keeps the bucket's default storage class on purpose, so that listing
 * and choosing backups never needs an archive-tier retrieval. It is written only where no object
 * is (If-None-Match: *), with its full-object SHA-256 for the store to check.
 */
export async function writeBackupMetadata(opts: WriteMetadataOptions): Promise<void> {
  const where = `s3://${opts.bucket}/${opts.key}`;
  const problems = metadataProblems(opts.metadata);
  if (problems.length > 0) throw new Error(`refusing to write an invalid ${where}: ${problems.join('; ')}`);
  const body = `${JSON.stringify(opts.metadata, null, 2)}\n`;
  try {
    await opts.client.send(
      new PutObjectCommand({
        Bucket: opts.bucket,
        Key: opts.key,
        Body: body,
        ContentType: 'application/json',
        ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
        IfNoneMatch: '*',
        ...encryptionParams(opts.serverSideEncryption),
        ...objectLockParams(opts.objectLock),
      }),
    );
  } catch (err) {
    const explained = explainS3Error(err, {
      bucket: opts.bucket,
      endpoint: await clientEndpoint(opts.client),
      key: opts.key,
    });
    throw new UploadFailedError(`writing ${where} failed: ${explained}`, { cause: err });
  }
}

/** Reads and checks metadata.json; DownloadFailedError when it cannot be read or is not valid. */
export async function readBackupMetadata(opts: MetadataObject): Promise<BackupMetadataType> {
  const where = `s3://${opts.bucket}/${opts.key}`;
  let text: string;
  try {
    const got = await opts.client.send(new GetObjectCommand({ Bucket: opts.bucket, Key: opts.key }));
    if ((got.ContentLength ?? 0) > MAX_METADATA_BYTES) {
      (got.Body as { destroy?: () => void } | undefined)?.destroy?.();
      throw new DownloadFailedError(`${where} is ${got.ContentLength} bytes, too large for a Lifeboat metadata.json`);
    }
    text = (await got.Body?.transformToString('utf8')) ?? '';
  } catch (err) {
    if (err instanceof DownloadFailedError) throw err;
    const explained =
      (err as { name?: unknown }).name === 'NoSuchKey'
        ? `no such object: the backup is incomplete or the key is wrong`
        : explainS3Error(err, { bucket: opts.bucket, endpoint: await clientEndpoint(opts.client), key: opts.key });
    throw new DownloadFailedError(`reading ${where} failed: ${explained}`, { cause: err });
  }
  return parseBackupMetadata(text, where);
}

// The one S3 client factory: every reader and writer of the object store gets its client here, so
// TLS, path style, timeouts and credentials mean the same thing for backups, restores and retention.
import { Agent as HttpsAgent } from 'node:https';
import { crc32 } from 'node:zlib';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { ObjectStoreSpec } from '../crds/object-store-types.js';

export const DEFAULT_REGION = 'us-east-1';

/** Static keys, already read from their Secret by the caller. */
export interface StaticS3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

/** What the ObjectStore's Secret references resolve to. */
export interface S3Access {
  /** Absent: the SDK's default chain (IAM role, IRSA, instance profile, environment). */
  readonly credentials?: StaticS3Credentials | undefined;
  /** PEM bundle read from tls.caSecretRef; tls.caBundle is taken from the spec itself. */
  readonly caBundle?: string | undefined;
}

/** Reads one key of a Secret in the resource's namespace; rejects when either is missing. */
export type ReadSecretKey = (secretName: string, key: string) => Promise<string>;

/** The ObjectStore cannot be used as written; nothing on the network was tried. */
export class S3ConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'S3ConfigError';
  }
}

// A stalled store must not hold a backup (and its Galera desync) forever, yet a 16 MiB part on a
// slow link takes a while: bound the connect tightly and only idle sockets loosely.
const CONNECT_TIMEOUT_MS = 10_000;
const SOCKET_IDLE_TIMEOUT_MS = 120_000;
/** The same bounds, for a read that brings its own socket (runner/data-path/archive-socket-read.ts). */
export const S3_SOCKET_TIMEOUTS = { connectMs: CONNECT_TIMEOUT_MS, idleMs: SOCKET_IDLE_TIMEOUT_MS } as const;

/** An S3 client for `store`; throws S3ConfigError for a spec this SDK cannot serve. */
export function createS3Client(store: ObjectStoreSpec, access: S3Access = {}): S3Client {
  const client = new S3Client(s3ClientConfig(store, access));
  if (overTls(store)) signWithoutPayloadHash(client);
  else {
    signDeclaredPayloadHash(client);
    plainHttpClients.add(client);
  }
  return client;
}

const plainHttpClients = new WeakSet<S3Client>();

/**
 * The checksum an archive part carries. Over TLS a CRC32: the store checks it as the part arrives,
 * and the channel keeps the bytes from being changed on the way, so SHA-256 runs once over every
 * archive byte (the archive's own). Over plain http a SHA-256, which the signer takes as the
 * part's signed payload hash (a CRC32 would not stop a change made on the way), docs/design.md
 * "Checksums". A client made elsewhere (tests, a caller's own) counts as TLS.
 */
export function partChecksumAlgorithm(client: S3Client): 'CRC32' | 'SHA256' {
  return plainHttpClients.has(client) ? 'SHA256' : 'CRC32';
}

/** AWS S3 is reached over https; a custom endpoint says which it is. */
function overTls(store: ObjectStoreSpec): boolean {
  const endpoint = store.endpoint?.trim().toLowerCase();
  return !endpoint || endpoint.startsWith('https:');
}

/**
 * SigV4 may sign each body's SHA-256 or UNSIGNED-PAYLOAD. Over plain http the signed hash is the
 * only check that the bytes arrived as sent, so it stays. Over TLS the channel already guarantees
 * that, and hashing every archive byte a second time (the archive's own SHA-256 is the first) cost
 * about a second of CPU per GiB here; the AWS SDKs skip it for streamed bodies for the same reason.
 */
function signWithoutPayloadHash(client: S3Client): void {
  client.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'lifeboatUnsignedPayload' },
  );
}

/** The writes whose ChecksumSHA256 is their body's; on CompleteMultipartUpload it is the object's. */
const BODY_CHECKSUM_COMMANDS = new Set(['PutObjectCommand', 'UploadPartCommand']);

/**
 * Over plain http SigV4 signs each body's SHA-256, the only check that the bytes arrived as sent.
 * A write that declares its ChecksumSHA256 (every archive part there, metadata.json, an archive
 * smaller than one part) has already hashed its body: the signer is given that digest rather than
 * hashing the same bytes again. The store checks the body against both, so nothing is checked less.
 */
function signDeclaredPayloadHash(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => (args) => {
      const declared = (args.input as { ChecksumSHA256?: unknown }).ChecksumSHA256;
      const request = args.request as { headers?: Record<string, string> };
      if (
        BODY_CHECKSUM_COMMANDS.has(context.commandName ?? '') &&
        typeof declared === 'string' &&
        request.headers &&
        !request.headers['x-amz-content-sha256']
      ) {
        request.headers['x-amz-content-sha256'] = Buffer.from(declared, 'base64').toString('hex');
      }
      return next(args);
    },
    { step: 'build', name: 'lifeboatDeclaredPayloadHash' },
  );
}

/** A CRC32 as S3's x-amz-checksum-crc32 carries it: the 4 bytes big-endian, in base64. */
export function crc32Base64(bytes: Uint8Array): string {
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc32(bytes));
  return sum.toString('base64');
}

/** The client configuration createS3Client uses; pure, so the mapping is testable without a client. */
export function s3ClientConfig(store: ObjectStoreSpec, access: S3Access = {}): S3ClientConfig {
  const endpoint = checkedEndpoint(store);
  if (store.signatureVersion === 'v2') {
    throw new S3ConfigError(
      'signatureVersion v2 is not supported: the AWS SDK v3 signs only with v4; remove signatureVersion or set it to v4',
    );
  }
  if (store.credentials && !access.credentials) {
    throw new S3ConfigError('the object store names credentials but none were resolved from its Secret');
  }
  const config: S3ClientConfig = {
    region: store.region || DEFAULT_REGION,
    forcePathStyle: store.forcePathStyle ?? false,
    requestHandler: {
      connectionTimeout: CONNECT_TIMEOUT_MS,
      socketTimeout: SOCKET_IDLE_TIMEOUT_MS,
      httpsAgent: httpsAgent(store, access.caBundle),
    },
  };
  if (endpoint !== undefined) {
    config.endpoint = endpoint;
    // S3-compatible stores differ in which of the SDK's default integrity checksums they accept;
    // send and verify them only where the API requires them (the archive's SHA-256 is ours anyway).
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  if (access.credentials) config.credentials = { ...access.credentials };
  return config;
}

/** The endpoint URL, or undefined for AWS; http:// only with insecure: true. */
function checkedEndpoint(store: ObjectStoreSpec): string | undefined {
  const raw = store.endpoint?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch (err) {
    throw new S3ConfigError(`endpoint "${raw}" is not a URL; write it as https://host[:port]`, { cause: err });
  }
  if (url.protocol === 'http:' && store.insecure !== true) {
    throw new S3ConfigError(
      `endpoint ${raw} is plain http; use https://, or set insecure: true to accept unencrypted traffic`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new S3ConfigError(`endpoint ${raw} uses ${url.protocol}; use https:// (or http:// with insecure: true)`);
  }
  return raw;
}

function httpsAgent(store: ObjectStoreSpec, caFromSecret: string | undefined): HttpsAgent {
  const ca = store.tls?.caBundle ?? caFromSecret;
  return new HttpsAgent({
    keepAlive: true,
    // The SDK's default pool is 50 sockets; an upload uses at most its queue size plus one.
    maxSockets: 8,
    ...(ca !== undefined ? { ca } : {}),
    rejectUnauthorized: store.tls?.insecureSkipVerify !== true,
  });
}

/**
 * Reads the Secret keys the ObjectStore names (credentials and tls.caSecretRef). Without
 * `credentials` the SDK default chain applies. A missing Secret or key rejects with an
 * S3ConfigError naming both; the value itself never appears in a message.
 */
export async function resolveS3Access(store: ObjectStoreSpec, readSecretKey: ReadSecretKey): Promise<S3Access> {
  const read = async (ref: { name: string; key: string }, what: string): Promise<string> => {
    let value: string;
    try {
      value = await readSecretKey(ref.name, ref.key);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new S3ConfigError(
        `cannot read ${what} from key "${ref.key}" of Secret "${ref.name}" (${why}); create the Secret with that key or fix the reference`,
        { cause: err },
      );
    }
    if (value === '') {
      throw new S3ConfigError(`key "${ref.key}" of Secret "${ref.name}" (${what}) is empty; put the value in it`);
    }
    return value;
  };
  const creds = store.credentials;
  const caRef = store.tls?.caSecretRef;
  return {
    credentials: creds
      ? {
          accessKeyId: await read(creds.accessKeyId, 'the access key ID'),
          secretAccessKey: await read(creds.secretAccessKey, 'the secret access key'),
          sessionToken: creds.sessionToken ? await read(creds.sessionToken, 'the session token') : undefined,
        }
      : undefined,
    caBundle: caRef ? await read(caRef, 'the CA bundle') : undefined,
  };
}

/** How the store is addressed, for messages: the endpoint URL, or AWS S3 with its region. */
export function describeEndpoint(store: ObjectStoreSpec): string {
  return store.endpoint?.trim() || `AWS S3 (${store.region || DEFAULT_REGION})`;
}

/** The endpoint a client talks to, for messages: its URL, or AWS S3 with the region. */
export async function clientEndpoint(client: S3Client): Promise<string> {
  const ep = client.config.isCustomEndpoint ? await client.config.endpoint?.() : undefined;
  if (ep) return `${ep.protocol}//${ep.hostname}${ep.port ? `:${ep.port}` : ''}${ep.path === '/' ? '' : ep.path}`;
  return `AWS S3 (${await client.config.region()})`;
}

/** The request parameters for ObjectStore.serverSideEncryption; empty when none is asked for. */
export function encryptionParams(sse: ObjectStoreSpec['serverSideEncryption']): {
  ServerSideEncryption?: 'AES256' | 'aws:kms';
  SSEKMSKeyId?: string;
} {
  if (!sse) return {};
  return sse.kmsKeyID
    ? { ServerSideEncryption: sse.type, SSEKMSKeyId: sse.kmsKeyID }
    : { ServerSideEncryption: sse.type };
}

/** Object Lock for one write: the mode, and the instant the lock ends. */
export interface ObjectLockWrite {
  readonly mode: 'GOVERNANCE' | 'COMPLIANCE';
  readonly retainUntil: Date;
}

/** The lock for a backup written at `now` under ObjectStore.objectLock; undefined without one. */
export function objectLockFor(lock: ObjectStoreSpec['objectLock'], now: Date): ObjectLockWrite | undefined {
  if (!lock) return undefined;
  return { mode: lock.mode, retainUntil: new Date(now.getTime() + lock.days * 86_400_000) };
}

/** The request parameters that lock an object; empty without a lock. */
export function objectLockParams(lock: ObjectLockWrite | undefined): {
  ObjectLockMode?: 'GOVERNANCE' | 'COMPLIANCE';
  ObjectLockRetainUntilDate?: Date;
} {
  return lock ? { ObjectLockMode: lock.mode, ObjectLockRetainUntilDate: lock.retainUntil } : {};
}

/** Where a failed request went: named in every message. */
export interface S3Target {
  readonly bucket: string;
  readonly endpoint: string;
  /** The object, for object requests; absent for bucket requests (a 404 then means no bucket). */
  readonly key?: string | undefined;
}

interface ErrorFacts {
  readonly name: string;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly message: string;
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|ERR_TLS|ERR_SSL|EPROTO/;

// The first rule that matches a failure says what happened and what to change; the SDK's own
// words ("NoSuchBucket", "socket hang up") rarely tell a user which field to fix.
const RULES: ReadonlyArray<{
  readonly when: (f: ErrorFacts, t: S3Target) => boolean;
  readonly say: (t: S3Target) => string;
}> = [
  {
    // Every backup write is conditional (If-None-Match: *): this is the object that was already there.
    when: (f, t) => t.key !== undefined && (f.name === 'PreconditionFailed' || f.status === 412),
    say: (t) =>
      `s3://${t.bucket}/${t.key} already exists at ${t.endpoint}, and Lifeboat never overwrites a backup: ` +
      'another Cluster of the same name (in another namespace or Kubernetes cluster) writes to the same bucket and path; ' +
      'give each Cluster its own spec.backup.objectStore.path (or bucket), then run the backup again',
  },
  {
    when: (f, t) => f.name === 'NoSuchBucket' || (f.status === 404 && t.key === undefined),
    say: (t) => `bucket '${t.bucket}' not found at ${t.endpoint}; create it or fix spec.objectStore.bucket`,
  },
  {
    when: (f) => f.name === 'InvalidAccessKeyId',
    say: (t) => `${t.endpoint} does not know the access key ID; fix the Secret named in spec.objectStore.credentials`,
  },
  {
    when: (f) => f.name === 'SignatureDoesNotMatch',
    say: (t) =>
      `${t.endpoint} rejected the request signature: the secret access key does not belong to the access key ID; fix the Secret named in spec.objectStore.credentials`,
  },
  {
    // Raised before any request: nothing answered, the SDK found no keys to sign with.
    when: (f) => f.name === 'CredentialsProviderError',
    say: (t) =>
      `no credentials for ${t.endpoint} were found: the object store names none and the AWS SDK's default chain ` +
      '(environment, ~/.aws, an IAM role) has none; set spec.objectStore.credentials or give the pod an IAM role ' +
      '(on the command line: set LIFEBOAT_S3_ACCESS_KEY_ID and LIFEBOAT_S3_SECRET_ACCESS_KEY)',
  },
  {
    when: (f) => f.name === 'ExpiredToken' || f.name === 'TokenRefreshRequired',
    say: (t) => `the session token for ${t.endpoint} has expired; refresh the credentials`,
  },
  {
    when: (f) => f.name === 'AccessDenied' || f.status === 403,
    say: (t) =>
      `access denied to bucket '${t.bucket}' at ${t.endpoint}; fix the credentials (spec.objectStore.credentials) or grant them read, write and delete on the bucket`,
  },
  {
    when: (f) => f.status === 301 || ['PermanentRedirect', 'AuthorizationHeaderMalformed'].includes(f.name),
    say: (t) =>
      `bucket '${t.bucket}' is in another region than the one used for ${t.endpoint}; set spec.objectStore.region`,
  },
  {
    when: (f) => f.code === 'ECONNREFUSED',
    say: (t) =>
      `connection refused at ${t.endpoint}: nothing listens there; fix spec.objectStore.endpoint or start the object store`,
  },
  {
    when: (f) => f.code === 'ENOTFOUND' || f.code === 'EAI_AGAIN',
    say: (t) => `the host of ${t.endpoint} is not found in DNS; fix spec.objectStore.endpoint`,
  },
  {
    when: (f) => f.code === 'ETIMEDOUT' || f.name === 'TimeoutError',
    say: (t) => `${t.endpoint} did not answer in time; check the network path to it`,
  },
  {
    when: (f) => f.code === 'ECONNRESET' || f.code === 'EPIPE',
    say: (t) => `${t.endpoint} dropped the connection during the request; check the object store, then retry`,
  },
  {
    // OpenSSL's answer to a server that does not speak TLS: a plain-http port named with https://.
    when: (f) => f.code === 'EPROTO' && /wrong version number/i.test(f.message),
    say: (t) =>
      `${t.endpoint} does not answer TLS there (OpenSSL: wrong version number); it serves plain http: use an http:// endpoint with insecure: true, or the store's TLS port`,
  },
  {
    when: (f) => f.name === 'AbortError',
    say: (t) => `the request to ${t.endpoint} was cancelled: the work was stopped`,
  },
  {
    when: (f) => f.code !== undefined && TLS_CODES.test(f.code),
    say: (t) =>
      `TLS to ${t.endpoint} failed: its certificate is not trusted; set spec.objectStore.tls.caBundle (or caSecretRef) to the CA that signed it`,
  },
];

const NETWORK_FAILURES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found in DNS',
  EAI_AGAIN: 'host not found in DNS',
  ETIMEDOUT: 'no answer in time',
  ECONNRESET: 'connection dropped',
  EPIPE: 'connection dropped',
};

/**
 * What went wrong, without advice: for a request that worked a moment ago (the rest of a read), the
 * advice explainS3Error gives for a first request (fix the endpoint) would mislead.
 */
export function s3FailureInShort(err: unknown): string {
  const facts = errorFacts(err);
  if (facts.code !== undefined) return NETWORK_FAILURES[facts.code] ?? facts.code;
  if (facts.name === 'TimeoutError') return NETWORK_FAILURES['ETIMEDOUT'] ?? facts.name;
  if (facts.status !== undefined) return `HTTP ${facts.status} ${facts.name}`;
  return err instanceof Error ? err.message : String(err);
}

/** What went wrong talking to the object store and what to change, in one sentence. */
export function explainS3Error(err: unknown, target: S3Target): string {
  const facts = errorFacts(err);
  const rule = RULES.find((r) => r.when(facts, target));
  if (rule) return rule.say(target);
  const detail = err instanceof Error ? err.message : String(err);
  const status = facts.status === undefined ? '' : ` (HTTP ${facts.status})`;
  return `${target.endpoint} answered ${facts.code ?? facts.name}${status} for bucket '${target.bucket}': ${detail}`;
}

function errorFacts(err: unknown): ErrorFacts {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  const status = e?.$metadata?.httpStatusCode;
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    status: typeof status === 'number' ? status : undefined,
    code: networkCode(err, 0),
    message: deepMessage(err, 0),
  };
}

/** The messages of the error and its causes, joined: OpenSSL's reason is often on the cause. */
function deepMessage(err: unknown, depth: number): string {
  if (typeof err !== 'object' || err === null || depth > 4) return '';
  const { message, cause } = err as { message?: unknown; cause?: unknown };
  return `${typeof message === 'string' ? message : ''} ${deepMessage(cause, depth + 1)}`.trim();
}

/** A system error code (ECONNREFUSED, ...) on the error, its cause, or inside an AggregateError. */
function networkCode(err: unknown, depth: number): string | undefined {
  if (typeof err !== 'object' || err === null || depth > 4) return undefined;
  const { code, cause, errors } = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string') return code;
  const inner = networkCode(cause, depth + 1);
  if (inner !== undefined || !Array.isArray(errors)) return inner;
  return networkCode(errors[0], depth + 1);
}

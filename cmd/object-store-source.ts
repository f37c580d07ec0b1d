// "Which object store": the flags or Cluster manifest that the offline commands (`lifeboat backups`,
// `lifeboat restore-datadir` without an API server) name a bucket with. Disaster recovery starts
// from a bucket and a manifest in Git, so nothing here needs Kubernetes. Credentials come from the
// environment or the SDK's default chain, never from argv, where `ps` and shell history show them.
import { readFileSync } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';
import { Command } from 'commander';
import { GROUP } from '../crds/api-constants.js';
import type { Cluster } from '../crds/kinds.js';
import type { ObjectStoreSpec } from '../crds/object-store-types.js';
import { messageOf } from '../lib/error-message.js';
import { ObjectStoreMissingError, SourceHasNoObjectStoreError, SourceNotFoundError } from '../runner/work-failures.js';
import { UsageError } from './cli-options.js';

export interface StoreOptions {
  readonly bucket?: string | undefined;
  readonly endpoint?: string | undefined;
  readonly region?: string | undefined;
  readonly path?: string | undefined;
  /** The key prefix the backups live under. */
  readonly cluster?: string | undefined;
  readonly insecure?: boolean | undefined;
  readonly forcePathStyle?: boolean | undefined;
  /** A YAML file holding a Lifeboat Cluster, or - for stdin. */
  readonly clusterManifest?: string | undefined;
  /** With clusterManifest: the externalClusters entry to read from. */
  readonly source?: string | undefined;
}

export interface StoreLocation {
  readonly client: S3Client;
  readonly bucket: string;
  readonly path?: string | undefined;
  readonly cluster: string;
  /** `s3://bucket/<path>/<cluster>/`, for messages. */
  readonly where: string;
  /** The Cluster of --cluster-manifest, when one was read. */
  readonly manifestCluster?: Cluster | undefined;
}

/** What the process may read besides the options; tests pass their own. */
export interface StoreInputs {
  readonly env?: NodeJS.ProcessEnv;
  readonly readManifest?: (file: string) => string;
}

export const CREDENTIAL_ENV = {
  accessKeyId: 'LIFEBOAT_S3_ACCESS_KEY_ID',
  secretAccessKey: 'LIFEBOAT_S3_SECRET_ACCESS_KEY',
  sessionToken: 'LIFEBOAT_S3_SESSION_TOKEN',
} as const;

/** The object-store flags, added to `cmd`. */
export function addStoreOptions(cmd: Command): Command {
  return cmd
    .option('--cluster-manifest <file>', 'a YAML file (or - for stdin) holding the Lifeboat Cluster to read from')
    .option('--source <name>', "with --cluster-manifest: that Cluster's externalClusters entry to read from")
    .option('--bucket <bucket>', 'the bucket (overrides the manifest)')
    .option('--endpoint <url>', 'S3-compatible endpoint URL; absent: AWS S3 (overrides the manifest)')
    .option('--region <region>', 'the bucket region (overrides the manifest)')
    .option('--path <prefix>', 'the key prefix, ObjectStore.path (overrides the manifest)')
    .option('--cluster <name>', 'the cluster name the backups live under (overrides the manifest)')
    .option('--insecure', 'allow a plain http:// endpoint')
    .option('--force-path-style', 'address the bucket as <endpoint>/<bucket>')
    .addHelpText(
      'after',
      `\nCredentials: ${CREDENTIAL_ENV.accessKeyId} and ${CREDENTIAL_ENV.secretAccessKey} (and ${CREDENTIAL_ENV.sessionToken})\n` +
        "from the environment when set, else the AWS SDK's default chain; never on the command line.",
    );
}

/** An S3 client and the cluster prefix the options name; UsageError saying what to fix when they do not. */
export async function storeFromOptions(opts: StoreOptions, inputs: StoreInputs = {}): Promise<StoreLocation> {
  const named = opts.clusterManifest === undefined ? fromFlagsOnly(opts) : await fromManifest(opts, inputs);
  const store: ObjectStoreSpec = withOverrides(named.store, opts);
  const cluster = opts.cluster ?? named.cluster;
  const { clusterPrefix } = await import('../crds/object-keys.js');
  let prefix: string;
  try {
    prefix = clusterPrefix(store.path, cluster);
  } catch (err) {
    throw new UsageError(`${messageOf(err)}; fix --path or --cluster`);
  }
  // The SDK warns on stderr that its releases after January 2027 need Node 22: a note for whoever
  // upgrades the SDK, noise in the one line a user in a recovery reads. Its own switch turns it off.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const { createS3Client } = await import('../lib/s3-client.js');
  const credentials = credentialsFromEnv(inputs.env ?? process.env);
  let client: S3Client;
  try {
    client = createS3Client(store, credentials ? { credentials } : {});
  } catch (err) {
    throw new UsageError(`${messageOf(err)} (on the command line: --endpoint, --insecure, --region)`);
  }
  return {
    client,
    bucket: store.bucket,
    path: store.path,
    cluster,
    where: `s3://${store.bucket}/${prefix}`,
    manifestCluster: named.manifest,
  };
}

interface NamedStore {
  readonly store: ObjectStoreSpec;
  readonly cluster: string;
  readonly manifest?: Cluster;
}

function fromFlagsOnly(opts: StoreOptions): NamedStore {
  if (opts.source !== undefined) throw new UsageError('--source needs --cluster-manifest FILE');
  if (opts.bucket === undefined || opts.cluster === undefined) {
    throw new UsageError(
      'name the object store: --bucket and --cluster (and --endpoint, --path…), or --cluster-manifest FILE',
    );
  }
  return { store: { bucket: opts.bucket }, cluster: opts.cluster };
}

// Flags win over the manifest: the endpoint a Cluster uses inside Kubernetes is often not the one
// reachable from the laptop doing the recovery. Secret references and IAM inheritance are dropped:
// there is no Secret to read here, the environment or the default chain stands in for them.
function withOverrides(store: ObjectStoreSpec, opts: StoreOptions): ObjectStoreSpec {
  const rest: ObjectStoreSpec = { ...store };
  delete rest.credentials;
  delete rest.inheritFromIAMRole;
  const tls = rest.tls?.caSecretRef === undefined ? rest.tls : { ...rest.tls, caSecretRef: undefined };
  return {
    ...rest,
    ...(tls === undefined ? {} : { tls }),
    ...(opts.bucket === undefined ? {} : { bucket: opts.bucket }),
    ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
    ...(opts.region === undefined ? {} : { region: opts.region }),
    ...(opts.path === undefined ? {} : { path: opts.path }),
    ...(opts.insecure === undefined ? {} : { insecure: opts.insecure }),
    ...(opts.forcePathStyle === undefined ? {} : { forcePathStyle: opts.forcePathStyle }),
  };
}

function credentialsFromEnv(
  env: NodeJS.ProcessEnv,
): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined {
  const accessKeyId = env[CREDENTIAL_ENV.accessKeyId];
  const secretAccessKey = env[CREDENTIAL_ENV.secretAccessKey];
  const sessionToken = env[CREDENTIAL_ENV.sessionToken];
  if (!accessKeyId && !secretAccessKey) return undefined;
  if (!accessKeyId || !secretAccessKey) {
    throw new UsageError(
      `set both ${CREDENTIAL_ENV.accessKeyId} and ${CREDENTIAL_ENV.secretAccessKey}, or neither to use the AWS SDK's default chain`,
    );
  }
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

async function fromManifest(
  opts: StoreOptions & { clusterManifest?: string },
  inputs: StoreInputs,
): Promise<NamedStore> {
  const file = opts.clusterManifest ?? '-';
  const text = readManifestText(file, inputs);
  const manifest = await theCluster(text, file === '-' ? '<stdin>' : file);
  return { ...clusterStore(manifest, opts.source), manifest: manifest.cluster };
}

function readManifestText(file: string, inputs: StoreInputs): string {
  try {
    return (inputs.readManifest ?? ((f: string) => readFileSync(f === '-' ? 0 : f, 'utf8')))(file);
  } catch (err) {
    throw new UsageError(`cannot read --cluster-manifest ${file}: ${messageOf(err)}`);
  }
}

interface ManifestCluster {
  readonly file: string;
  readonly cluster: Cluster;
}

/** The one valid Lifeboat Cluster the text holds. */
async function theCluster(text: string, file: string): Promise<ManifestCluster> {
  const { default: jsyaml } = await import('js-yaml');
  let docs: unknown[];
  try {
    docs = jsyaml.loadAll(text);
  } catch (err) {
    throw new UsageError(`--cluster-manifest ${file} is not YAML: ${messageOf(err)}`);
  }
  const clusters = docs.flatMap(listItems).filter(isLifeboatCluster);
  const [cluster, second] = clusters;
  if (!cluster || second) {
    throw new UsageError(
      `--cluster-manifest ${file} holds ${clusters.length} Lifeboat Clusters (kind: Cluster, apiVersion: ${GROUP}/…); give a file with exactly one`,
    );
  }
  const { loadCompiledValidators } = await import('../crds/validator-path.js');
  const validate = (await loadCompiledValidators())['Cluster'];
  if (validate && !validate(cluster)) {
    const problems = (validate.errors ?? [])
      .slice(0, 3)
      .map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    throw new UsageError(
      `the Cluster in ${file} is not valid: ${problems.join('; ')}; fix it (lifeboat check ${file} says more)`,
    );
  }
  return { file, cluster: cluster as Cluster };
}

function listItems(doc: unknown): unknown[] {
  const d = doc as { kind?: unknown; items?: unknown } | null;
  return d?.kind === 'List' && Array.isArray(d.items) ? d.items : [doc];
}

function isLifeboatCluster(doc: unknown): boolean {
  const d = doc as { kind?: unknown; apiVersion?: unknown } | null;
  return d?.kind === 'Cluster' && typeof d.apiVersion === 'string' && d.apiVersion.startsWith(`${GROUP}/`);
}

/** The Cluster's own store and name, or with `source` that externalClusters entry's. */
function clusterStore(
  { file, cluster }: ManifestCluster,
  source: string | undefined,
): { store: ObjectStoreSpec; cluster: string } {
  const name = `Cluster "${cluster.metadata.name}" in ${file}`;
  if (source === undefined) {
    const store = cluster.spec.backup?.objectStore;
    if (!store) {
      throw new ObjectStoreMissingError(
        `${name} has no spec.backup.objectStore; give --source NAME for one of its externalClusters, or --bucket and --cluster`,
      );
    }
    if (!cluster.metadata.name) throw new UsageError(`the Cluster in ${file} has no metadata.name; give --cluster`);
    return { store, cluster: cluster.metadata.name };
  }
  const entries = cluster.spec.externalClusters ?? [];
  const entry = entries.find((e) => e.name === source);
  if (!entry) {
    const known = entries.length === 0 ? 'it has none' : `it has ${entries.map((e) => `"${e.name}"`).join(', ')}`;
    throw new SourceNotFoundError(`${name} has no externalClusters entry "${source}" (${known}); fix --source`);
  }
  if (!entry.objectStore) {
    throw new SourceHasNoObjectStoreError(`externalClusters entry "${source}" of ${name} has no objectStore; add one`);
  }
  return { store: entry.objectStore, cluster: source };
}

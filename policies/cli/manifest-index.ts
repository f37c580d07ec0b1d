// Neighbours for offline checks: the other manifests given to `lifeboat check`. A neighbour that is
// absent may live elsewhere, so this index is not authoritative.
import { GROUP } from '../../crds/api-constants.js';
import type { Backup, Cluster, LifeboatKind } from '../../crds/kinds.js';
import type { Neighbours, SecretInfo } from '../policy-types.js';
import type { Decoded } from '../schema-check.js';

type Manifest = Record<string, unknown>;

function record(value: unknown): Manifest | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Manifest) : undefined;
}

function keysOf(value: unknown): string[] {
  return Object.keys(record(value) ?? {});
}

function stringAt(value: unknown, key: string): string | undefined {
  const found = record(value)?.[key];
  return typeof found === 'string' ? found : undefined;
}

function labelsOf(metadata: unknown): Record<string, string> {
  const labels = record(record(metadata)?.['labels']) ?? {};
  return Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

function externalSecretKeys(spec: Manifest | undefined): SecretInfo {
  const data = Array.isArray(spec?.['data']) ? (spec['data'] as unknown[]) : [];
  const keys = data.map((d) => stringAt(d, 'secretKey')).filter((k): k is string => k !== undefined);
  // dataFrom pulls keys that cannot be known offline.
  return spec?.['dataFrom'] ? { keys, anyKey: true } : { keys };
}

/** The Secret a manifest yields: a Secret, a SealedSecret, or an ExternalSecret's target. */
function secretOf(doc: Manifest): { name: string; info: SecretInfo } | undefined {
  const name = stringAt(doc['metadata'], 'name');
  const spec = record(doc['spec']);
  if (name === undefined) return undefined;
  if (doc['kind'] === 'Secret' && doc['apiVersion'] === 'v1') {
    return { name, info: { keys: [...keysOf(doc['data']), ...keysOf(doc['stringData'])] } };
  }
  if (doc['kind'] === 'SealedSecret') return { name, info: { keys: keysOf(spec?.['encryptedData']) } };
  if (doc['kind'] === 'ExternalSecret')
    return { name: stringAt(spec?.['target'], 'name') ?? name, info: externalSecretKeys(spec) };
  return undefined;
}

/** What one manifest adds to the index: plain data, so that a worker thread can send it. */
export interface IndexEntry {
  /** `Kind/namespace/name` of a Lifeboat object, even one that failed its schema. */
  readonly present?: string;
  /** A Namespace and its labels. */
  readonly namespace?: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
  /** `namespace/name` of the Secret the manifest yields, and its keys. */
  readonly secret?: { readonly key: string; readonly info: SecretInfo };
  /** A Cluster or Backup that passed its schema. */
  readonly cluster?: Cluster;
  readonly backup?: Backup;
}

function namespaceOf(doc: Manifest, defaultNamespace: string): string {
  return stringAt(doc['metadata'], 'namespace') ?? defaultNamespace;
}

/** What a manifest with a name adds: its presence (Lifeboat kinds) or its labels (a Namespace). */
function namedEntry(doc: Manifest, name: string, namespace: string): IndexEntry {
  if (String(doc['apiVersion']).startsWith(`${GROUP}/`))
    return { present: `${String(doc['kind'])}/${namespace}/${name}` };
  if (doc['kind'] === 'Namespace' && doc['apiVersion'] === 'v1')
    return { namespace: { name, labels: labelsOf(doc['metadata']) } };
  return {};
}

/** The manifest's part of the index, or undefined when it adds nothing. */
export function indexEntry(value: unknown, decoded: Decoded, defaultNamespace: string): IndexEntry | undefined {
  const doc = record(value);
  if (!doc) return undefined;
  const name = stringAt(doc['metadata'], 'name');
  const namespace = namespaceOf(doc, defaultNamespace);
  const secret = secretOf(doc);
  const object = decoded.type === 'lifeboat' ? decoded.object : undefined;
  const entry: IndexEntry = {
    ...(name === undefined ? {} : namedEntry(doc, name, namespace)),
    ...(secret ? { secret: { key: `${namespace}/${secret.name}`, info: secret.info } } : {}),
    ...(object?.kind === 'Cluster' ? { cluster: object } : {}),
    ...(object?.kind === 'Backup' ? { backup: object } : {}),
  };
  return Object.keys(entry).length > 0 ? entry : undefined;
}

export class ManifestIndex implements Neighbours {
  readonly authoritative = false;
  // Secrets are mostly kept out of Git, so one missing from the folder may well exist.
  readonly secretsListed = false;
  private readonly present = new Set<string>();
  private readonly clusterMap = new Map<string, Cluster>();
  /** One list for every caller, so policies can index it once (trust-policies.ts). */
  private clusterList?: readonly Cluster[];
  private readonly backups = new Map<string, Backup>();
  private readonly secrets = new Map<string, SecretInfo>();
  private readonly namespaces = new Map<string, Readonly<Record<string, string>>>();

  constructor(private readonly defaultNamespace: string) {}

  private key(namespace: string, name: string): string {
    return `${namespace}/${name}`;
  }

  /** Adds what one manifest brings; Lifeboat objects must already have passed the schema. */
  add(entry: IndexEntry): void {
    if (entry.present !== undefined) this.present.add(entry.present);
    if (entry.namespace) this.namespaces.set(entry.namespace.name, entry.namespace.labels);
    if (entry.secret && !this.secrets.has(entry.secret.key)) this.secrets.set(entry.secret.key, entry.secret.info);
    if (entry.cluster) this.addCluster(entry.cluster);
    if (entry.backup) this.addOnce(this.backups, entry.backup);
  }

  // Objects with only a generateName cannot be referred to, so they are not indexed. The first
  // of duplicates wins, so results do not depend on which file comes last.
  private addOnce<T extends Cluster | Backup>(map: Map<string, T>, obj: T): void {
    const name = obj.metadata.name;
    const key = name === undefined ? undefined : this.key(namespaceOf(obj, this.defaultNamespace), name);
    if (key !== undefined && !map.has(key)) map.set(key, obj);
  }

  addCluster(cluster: Cluster): void {
    this.clusterList = undefined;
    this.addOnce(this.clusterMap, cluster);
  }

  cluster(namespace: string, name: string): Cluster | undefined {
    return this.clusterMap.get(this.key(namespace, name));
  }

  backup(namespace: string, name: string): Backup | undefined {
    return this.backups.get(this.key(namespace, name));
  }

  secret(namespace: string, name: string): SecretInfo | undefined {
    return this.secrets.get(this.key(namespace, name));
  }

  has(kind: LifeboatKind, namespace: string, name: string): boolean {
    return this.present.has(`${kind}/${this.key(namespace, name)}`);
  }

  /** The Clusters among the inputs: two of them writing one prefix collide whatever else exists. */
  clusters(): readonly Cluster[] {
    this.clusterList ??= [...this.clusterMap.values()];
    return this.clusterList;
  }

  /** Labels of a Namespace given among the inputs; otherwise unknown. */
  namespaceLabels(name: string): Readonly<Record<string, string>> | undefined {
    return this.namespaces.get(name);
  }

  secretNamespaces(name: string): string[] {
    return [...this.secrets.keys()]
      .filter((k) => k.endsWith(`/${name}`))
      .map((k) => k.slice(0, k.length - name.length - 1));
  }
}

/** Indexes every manifest first, so a Backup finds a Cluster that comes later or in another file. */
export function buildIndex(
  manifests: readonly { readonly value: unknown; readonly decoded: Decoded }[],
  defaultNamespace: string,
): ManifestIndex {
  const index = new ManifestIndex(defaultNamespace);
  for (const { value, decoded } of manifests) {
    const entry = indexEntry(value, decoded, defaultNamespace);
    if (entry) index.add(entry);
  }
  return index;
}

/** The index of entries made by indexEntry, in the order of their manifests. */
export function indexOf(entries: readonly IndexEntry[], defaultNamespace: string): ManifestIndex {
  const index = new ManifestIndex(defaultNamespace);
  for (const entry of entries) index.add(entry);
  return index;
}

// Shared test helpers: small in-memory fakes of the engine's lookups, and manifest loading.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { Backup, Cluster, LifeboatObject } from '../crds/kinds.js';
import { review, type ReviewResult } from '../policies/engine.js';
import {
  DEFAULT_SETTINGS,
  type Neighbours,
  type Operation,
  type PolicySettings,
  type SecretInfo,
} from '../policies/policy-types.js';
import { decode } from '../policies/schema-check.js';

export interface FakeWorld {
  authoritative?: boolean;
  secretsListed?: boolean;
  objects?: unknown[];
  secrets?: Record<string, SecretInfo>;
  /** Whether the fake can list every Cluster (the webhook can; the runner cannot). */
  listsClusters?: boolean;
  /** Namespace labels by namespace name; a namespace not here has unknown labels. */
  namespaces?: Record<string, Record<string, string>>;
}

/** A fake Neighbours over a fixed list of objects, all in namespace "default" unless they say. */
export function fakeNeighbours(world: FakeWorld = {}): Neighbours {
  const objects = (world.objects ?? []).map(toObject);
  const find = <T extends LifeboatObject>(kind: string, ns: string, name: string): T | undefined =>
    objects.find((o) => o.kind === kind && o.metadata.name === name && (o.metadata.namespace ?? 'default') === ns) as
      T | undefined;
  return {
    authoritative: world.authoritative ?? false,
    secretsListed: world.secretsListed ?? false,
    has: (kind, ns, name) => find(kind, ns, name) !== undefined,
    cluster: (ns, name) => find<Cluster>('Cluster', ns, name),
    backup: (ns, name) => find<Backup>('Backup', ns, name),
    secret: (ns, name) => world.secrets?.[`${ns}/${name}`],
    secretNamespaces: (name) =>
      Object.keys(world.secrets ?? {})
        .filter((k) => k.endsWith(`/${name}`))
        .map((k) => k.split('/')[0] ?? ''),
    clusters: () => (world.listsClusters ? objects.filter((o): o is Cluster => o.kind === 'Cluster') : undefined),
    namespaceLabels: (name) => world.namespaces?.[name],
  };
}

export function toObject(doc: unknown): LifeboatObject {
  const decoded = decode(doc);
  if (decoded.type !== 'lifeboat') throw new Error(`not a valid Lifeboat object: ${JSON.stringify(decoded)}`);
  return decoded.object;
}

export function yamlDocs(text: string): unknown[] {
  return parseAllDocuments(text).map((d) => d.toJS() as unknown);
}

export function fileDocs(path: string): unknown[] {
  return yamlDocs(readFileSync(path, 'utf8'));
}

export interface ReviewOptions extends FakeWorld {
  operation?: Operation;
  old?: unknown;
  minScheduleIntervalSeconds?: number;
  settings?: Partial<PolicySettings>;
}

/** Reviews one manifest with the real engine and fake neighbours. */
export function reviewWith(document: unknown, options: ReviewOptions = {}): ReviewResult {
  return review({
    document,
    old: options.old === undefined ? undefined : toObject(options.old),
    operation: options.operation ?? (options.old === undefined ? 'CREATE' : 'UPDATE'),
    neighbours: fakeNeighbours(options),
    settings: {
      ...DEFAULT_SETTINGS,
      minScheduleIntervalSeconds: options.minScheduleIntervalSeconds ?? DEFAULT_SETTINGS.minScheduleIntervalSeconds,
      ...options.settings,
    },
  });
}

export function policiesOf(result: ReviewResult): string[] {
  return result.findings.map((f) => f.policy);
}

/** A minimal valid Cluster to build cases from. */
export function cluster(spec: Record<string, unknown> = {}, name = 'shop'): Record<string, unknown> {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name },
    spec: {
      engine: 'mariadb',
      topology: 'standalone',
      instances: { static: [{ name: 'shop-0', host: 'db.shop.svc' }] },
      credentials: { secretRef: { name: 'shop-db' } },
      backup: { objectStore: { bucket: 'backups', inheritFromIAMRole: true } },
      ...spec,
    },
  };
}

export function backup(
  spec: Record<string, unknown> = {},
  metadata: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Backup',
    metadata: { name: 'shop-manual', ...metadata },
    spec: { cluster: { name: 'shop' }, ...spec },
  };
}

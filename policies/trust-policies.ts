// Trust: backups go only where they should, and no one else's backups are overwritten. These judge
// an object against what is around it (other Clusters, its Namespace) and against the operator's
// allowlists (PolicySettings), which the webhook, the runner and `lifeboat check` take as flags.
import { LABEL_ALLOW_IAM_ROLE } from '../crds/api-constants.js';
import type { Cluster } from '../crds/kinds.js';
import { normalizePath } from '../crds/object-keys.js';
import type { ObjectStoreSpec } from '../crds/object-store-types.js';
import { hostMatches } from './host-patterns.js';
import { backupSpecSite, clusterRefName, objectStoreSites, ownerCluster } from './object-sites.js';
import type { FieldPath, PolicyContext, ValidatingPolicy, Violation } from './policy-types.js';

const STORE_KINDS = ['Cluster', 'Backup', 'ScheduledBackup'] as const;

/** The host an absent endpoint stands for: the SDK then talks to AWS S3. */
export const AWS_S3_HOST = 's3.amazonaws.com';

/** Where backups of Cluster `name` are written with `store`: the store and the prefix, as one comparable string. */
function writePrefix(
  store: ObjectStoreSpec | undefined,
  name: string | undefined,
): { key: string; shown: string } | undefined {
  if (!store || name === undefined) return undefined;
  let path: string;
  try {
    path = normalizePath(store.path);
  } catch {
    return undefined; // LB203 reports the path itself
  }
  const prefix = [path, name].filter((p) => p !== '').join('/');
  const endpoint = (store.endpoint ?? '').toLowerCase().replace(/\/+$/, '');
  return { key: `${endpoint}|${store.bucket}|${prefix}/`, shown: `s3://${store.bucket}/${prefix}/` };
}

const clusterPrefix = (c: Cluster): { key: string; shown: string } | undefined =>
  writePrefix(c.spec.backup?.objectStore, c.metadata.name);

/**
 * The Clusters of a list by the prefix they write under, in list order, built once per list: a
 * folder of N Clusters asks for every one of them, and a scan per Cluster made that N².
 */
const prefixIndexes = new WeakMap<readonly Cluster[], Map<string, Cluster[]>>();

function clustersWritingTo(everyone: readonly Cluster[], key: string): readonly Cluster[] {
  let index = prefixIndexes.get(everyone);
  if (!index) {
    index = new Map();
    for (const c of everyone) {
      const prefix = clusterPrefix(c);
      if (!prefix) continue;
      const same = index.get(prefix.key);
      if (same) same.push(c);
      else index.set(prefix.key, [c]);
    }
    prefixIndexes.set(everyone, index);
  }
  return index.get(key) ?? [];
}

/** The prefix this object writes under, and the path of the field that chose it. */
function writtenPrefix(ctx: PolicyContext): { key: string; shown: string; at: FieldPath } | undefined {
  const obj = ctx.object;
  if (obj.kind === 'Cluster') {
    const mine = clusterPrefix(obj);
    return mine && { ...mine, at: ['spec', 'backup', 'objectStore', 'path'] };
  }
  // A Backup or schedule with a store of its own writes under <path>/<its Cluster's name>/ too.
  const site = backupSpecSite(obj);
  const mine = writePrefix(site?.value.objectStore, clusterRefName(obj));
  if (!site || !mine) return undefined;
  // Its own Cluster's prefix (the copy admission fills in) is that Cluster's to answer for. Judged
  // once the Cluster is known, so a Backup with its Cluster's store never costs a list of Clusters.
  const owner = ownerCluster(ctx);
  if (!owner || clusterPrefix(owner)?.key === mine.key) return undefined;
  return { ...mine, at: [...site.path, 'objectStore', 'path'] };
}

function prefixCollisions(ctx: PolicyContext): Violation[] {
  const mine = writtenPrefix(ctx);
  const everyone = mine && ctx.neighbours.clusters?.();
  if (!mine || !everyone) return [];
  const ownName = ctx.object.kind === 'Cluster' ? ctx.object.metadata.name : clusterRefName(ctx.object);
  const self = (c: Cluster): boolean =>
    (c.metadata.namespace ?? ctx.settings.defaultNamespace) === ctx.namespace && c.metadata.name === ownName;
  const other = clustersWritingTo(everyone, mine.key).find((c) => !self(c));
  if (!other) return [];
  const otherName = `${other.metadata.namespace ?? ctx.settings.defaultNamespace}/${other.metadata.name ?? ''}`;
  const mend =
    ctx.object.kind === 'Cluster'
      ? `Set a spec.backup.objectStore.path of this Cluster's own (e.g. ${ctx.namespace}), or give it another name`
      : `Leave objectStore out (the Cluster's own is used), or set a path of this namespace's own (e.g. ${ctx.namespace})`;
  return [
    {
      path: mine.at,
      message: `Cluster ${otherName} already writes its backups under ${mine.shown}; two Clusters there would overwrite each other's backups. ${mend}`,
    },
  ];
}

function iamRoleViolations(ctx: PolicyContext): Violation[] {
  const sites = objectStoreSites(ctx.object).filter((s) => s.value.inheritFromIAMRole === true);
  if (sites.length === 0) return [];
  const labels = ctx.neighbours.namespaceLabels?.(ctx.namespace);
  if (labels === undefined || labels[LABEL_ALLOW_IAM_ROLE] === 'true') return [];
  return sites.map((site) => ({
    path: [...site.path, 'inheritFromIAMRole'],
    message: `namespace ${ctx.namespace} may not use the runner's IAM role: inheritFromIAMRole needs the label ${LABEL_ALLOW_IAM_ROLE}: "true" on the Namespace, which a platform administrator sets; use credentials from a Secret instead`,
  }));
}

function endpointHost(store: ObjectStoreSpec): string | undefined {
  if (!store.endpoint) return AWS_S3_HOST;
  try {
    return new URL(store.endpoint).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return undefined; // LB205 reports it
  }
}

function endpointViolations(ctx: PolicyContext): Violation[] {
  const allowed = ctx.settings.allowedEndpoints ?? [];
  if (allowed.length === 0) return [];
  return objectStoreSites(ctx.object).flatMap(({ path, value }) => {
    const host = endpointHost(value);
    if (host === undefined || hostMatches(host, allowed)) return [];
    const what = value.endpoint ? `endpoint host ${host}` : `no endpoint (AWS S3, ${AWS_S3_HOST})`;
    return [
      {
        path: [...path, value.endpoint ? 'endpoint' : 'bucket'],
        message: `${what} is not among the object stores this installation allows (${allowed.join(', ')}); use one of those, or ask the administrator to allow it`,
      },
    ];
  });
}

function hostViolations(cluster: Cluster | undefined, allowed: readonly string[], at?: FieldPath): Violation[] {
  const hosts = cluster?.spec.instances.static ?? [];
  return hosts.flatMap((instance, i) => {
    if (hostMatches(instance.host, allowed)) return [];
    const owner = at ? `Cluster ${cluster?.metadata.name ?? ''}: ` : '';
    return [
      {
        path: at ?? ['spec', 'instances', 'static', i, 'host'],
        message: `${owner}database host ${instance.host} (instance ${instance.name}) is not among the database hosts this installation allows (${allowed.join(', ')}); use one of those, or ask the administrator to allow it`,
      },
    ];
  });
}

function databaseHostViolations(ctx: PolicyContext): Violation[] {
  const allowed = ctx.settings.allowedDatabaseHosts ?? [];
  if (allowed.length === 0) return [];
  const obj = ctx.object;
  if (obj.kind === 'Cluster') return hostViolations(obj, allowed);
  const at =
    obj.kind === 'ScheduledBackup' ? ['spec', 'backupTemplate', 'cluster', 'name'] : ['spec', 'cluster', 'name'];
  return hostViolations(ownerCluster(ctx), allowed, at);
}

export const trustPolicies: ValidatingPolicy[] = [
  {
    id: 'LB801',
    name: 'backup-prefix-unique',
    category: 'trust',
    severity: 'deny',
    kinds: STORE_KINDS,
    rule: 'No two Clusters write backups under the same endpoint, bucket, path and Cluster name (in any namespace; offline, among the inputs), nor does a Backup or schedule whose objectStore is its own.',
    rationale:
      'Backup keys are <path>/<cluster>/<backup>/<id>/: two Clusters of one name in two namespaces with one bucket and path would write, list, restore and delete each other’s backups. Reading another Cluster’s prefix (externalClusters) is fine.',
    check: prefixCollisions,
  },
  {
    id: 'LB802',
    name: 'iam-role-namespace',
    category: 'trust',
    severity: 'deny',
    kinds: STORE_KINDS,
    rule: `inheritFromIAMRole: true only in a Namespace labelled ${LABEL_ALLOW_IAM_ROLE}: "true" (offline: judged only when the Namespace is among the inputs).`,
    rationale:
      'The IAM role is the runner’s own identity, which can usually reach every team’s bucket; a namespace uses it only where a platform administrator has said so.',
    check: iamRoleViolations,
  },
  {
    id: 'LB803',
    name: 'object-store-endpoint-allowed',
    category: 'trust',
    severity: 'deny',
    kinds: STORE_KINDS,
    rule: 'With --allowed-endpoints set, every object-store endpoint host matches one of its patterns (no endpoint means s3.amazonaws.com).',
    rationale:
      'Backups hold every row of the database; an allowlist keeps a namespace from sending them, and the S3 credentials, to a store of its choosing.',
    check: endpointViolations,
  },
  {
    id: 'LB804',
    name: 'database-host-allowed',
    category: 'trust',
    severity: 'deny',
    kinds: STORE_KINDS,
    rule: 'With --allowed-db-hosts set, every static instance host of the Cluster matches one of its patterns.',
    rationale:
      'The runner connects with the credentials the Cluster names; an allowlist keeps it from being pointed at a server that collects them or feeds a forged backup.',
    check: databaseHostViolations,
  },
];

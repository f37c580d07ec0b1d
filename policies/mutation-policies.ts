// Mutation: fill what the user left out, never change what they wrote, so that GitOps tools see no
// drift and applying twice changes nothing.
import { DEFAULT_METHOD, DEFAULT_TARGET, LABEL_CLUSTER } from '../crds/api-constants.js';
import type { LifeboatObject } from '../crds/kinds.js';
import { backupSpecSite, clusterRefName, ownerCluster } from './object-sites.js';
import type { Applied, FieldPath, MutatingPolicy, PolicyContext } from './policy-types.js';
import { effectiveObjectStore } from '../crds/object-store-funcs.js';

/**
 * Sets draft[...path] = value when absent and returns what it set. Every object on the way is
 * copied before it is written, so the input the draft was shallow-copied from is never touched.
 */
function fill(draft: object, path: FieldPath, value: unknown, policy: string): Applied[] {
  let node = draft as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    const child = node[key];
    node[key] = child === undefined ? {} : { ...(child as object) };
    node = node[key] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1];
  if (last === undefined || node[last] !== undefined) return [];
  node[last] = value;
  return [{ policy, path, value }];
}

/**
 * A deep copy of schema-checked data: objects, arrays and scalars, as JSON or YAML gave them.
 * structuredClone copies the same, but through its serializer, at several times the cost for an
 * objectStore; the mutating webhook copies one into every new Backup.
 */
export function copyData<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copyData) as T;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const member = copyData((value as Record<string, unknown>)[key]);
    // A "__proto__" key assigned would set the prototype instead of a member.
    if (key === '__proto__')
      Object.defineProperty(copy, key, { value: member, enumerable: true, writable: true, configurable: true });
    else copy[key] = member;
  }
  return copy as T;
}

/** Spec defaults are taken at creation only: a stored spec is never rewritten behind its owner. */
function fillSpec(
  draft: LifeboatObject,
  ctx: PolicyContext,
  field: string,
  id: string,
  pick: () => unknown,
): Applied[] {
  const site = backupSpecSite(draft);
  if (!site || ctx.operation !== 'CREATE') return [];
  const value = pick();
  return value === undefined ? [] : fill(draft, [...site.path, field], value, id);
}

export const mutationPolicies: MutatingPolicy[] = [
  {
    id: 'LB301',
    name: 'inherit-object-store',
    category: 'mutation',
    kinds: ['Backup'],
    rule: "A new Backup without objectStore gets a copy of its Cluster's spec.backup.objectStore.",
    rationale:
      'The copy records where this backup went even if the Cluster later moves to another bucket, so restores still find it.',
    mutate: (draft, ctx) =>
      fillSpec(draft, ctx, 'objectStore', 'LB301', () =>
        copyData(effectiveObjectStore({ spec: {} }, ownerCluster(ctx))),
      ),
  },
  {
    id: 'LB302',
    name: 'default-method',
    category: 'mutation',
    kinds: ['Backup', 'ScheduledBackup'],
    rule: "A new Backup (or template) without method gets the Cluster's spec.backup.method, else the engine default (mariabackup for MariaDB, xtrabackup for MySQL and Percona).",
    rationale:
      'Recording the method on the object shows in kubectl get what will run, and keeps it stable when Cluster defaults change.',
    mutate: (draft, ctx) =>
      fillSpec(draft, ctx, 'method', 'LB302', () => {
        const cluster = ownerCluster(ctx);
        return cluster && (cluster.spec.backup?.method ?? DEFAULT_METHOD[cluster.spec.engine]);
      }),
  },
  {
    id: 'LB303',
    name: 'default-target',
    category: 'mutation',
    kinds: ['Backup', 'ScheduledBackup'],
    rule: "A new Backup (or template) without target gets the Cluster's spec.backup.target, else prefer-standby.",
    rationale: 'Backing up from a standby keeps the load off the primary; writing it down makes the choice visible.',
    mutate: (draft, ctx) =>
      fillSpec(draft, ctx, 'target', 'LB303', () => ownerCluster(ctx)?.spec.backup?.target ?? DEFAULT_TARGET),
  },
  {
    id: 'LB304',
    name: 'default-online',
    category: 'mutation',
    kinds: ['Backup', 'ScheduledBackup'],
    rule: 'A new Backup (or template) without online gets online: true.',
    rationale: 'Every supported method backs up a running database consistently; stopping it is the exception.',
    mutate: (draft, ctx) => fillSpec(draft, ctx, 'online', 'LB304', () => true),
  },
  {
    id: 'LB305',
    name: 'cluster-label',
    category: 'mutation',
    kinds: ['Backup', 'ScheduledBackup', 'Restore'],
    rule: `Backups, ScheduledBackups and Restores carry the label ${LABEL_CLUSTER}: <cluster name>.`,
    rationale: `So that kubectl get backups -l ${LABEL_CLUSTER}=shop lists one Cluster's backups, and retention finds them.`,
    mutate(draft) {
      const name = clusterRefName(draft);
      return name === undefined ? [] : fill(draft, ['metadata', 'labels', LABEL_CLUSTER], name, 'LB305');
    },
  },
];

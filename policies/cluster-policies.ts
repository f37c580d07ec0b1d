// Cluster shape: the members can be found, and names that other fields refer to are unambiguous.
import type { FieldPath, ValidatingPolicy, Violation } from './policy-types.js';

function duplicates(names: readonly string[], path: (index: number) => FieldPath, what: string): Violation[] {
  const seen = new Set<string>();
  return names.flatMap((name, i) => {
    if (!seen.has(name)) {
      seen.add(name);
      return [];
    }
    return [{ path: path(i), message: `${what} "${name}" appears more than once; names must be unique` }];
  });
}

export const clusterPolicies: ValidatingPolicy[] = [
  {
    id: 'LB701',
    name: 'instances-one-source',
    category: 'cluster',
    severity: 'deny',
    kinds: ['Cluster'],
    rule: 'instances sets exactly one of selector or a non-empty static list.',
    rationale: 'Lifeboat must know which servers make up the database before it can pick a safe one to back up.',
    check(ctx) {
      if (ctx.object.kind !== 'Cluster') return [];
      const { selector, static: list } = ctx.object.spec.instances;
      if (selector && list)
        return [
          { path: ['spec', 'instances', 'static'], message: 'instances sets both selector and static; keep one' },
        ];
      if (!selector && (!list || list.length === 0)) {
        return [
          {
            path: ['spec', 'instances'],
            message: 'no instances; set selector (pods with a port) or a static list of {name, host, port}',
          },
        ];
      }
      return [];
    },
  },
  {
    id: 'LB702',
    name: 'unique-names',
    category: 'cluster',
    severity: 'deny',
    kinds: ['Cluster'],
    rule: 'Static instance names and externalClusters names are unique.',
    rationale: 'Backup targets and recovery sources refer to these names; a duplicate makes the reference ambiguous.',
    check(ctx) {
      if (ctx.object.kind !== 'Cluster') return [];
      const instances = ctx.object.spec.instances.static?.map((i) => i.name) ?? [];
      const externals = ctx.object.spec.externalClusters?.map((e) => e.name) ?? [];
      return [
        ...duplicates(instances, (i) => ['spec', 'instances', 'static', i, 'name'], 'instance'),
        ...duplicates(externals, (i) => ['spec', 'externalClusters', i, 'name'], 'externalClusters entry'),
      ];
    },
  },
  {
    id: 'LB703',
    name: 'galera-quorum',
    category: 'cluster',
    severity: 'warn',
    kinds: ['Cluster'],
    rule: 'A galera Cluster with static instances lists at least 3.',
    rationale:
      'Galera needs a majority to stay Primary; with fewer than 3 members, losing one stops writes and every backup is refused as unsafe.',
    check(ctx) {
      if (ctx.object.kind !== 'Cluster' || ctx.object.spec.topology !== 'galera') return [];
      const count = ctx.object.spec.instances.static?.length;
      if (count === undefined || count >= 3) return [];
      return [
        {
          path: ['spec', 'instances', 'static'],
          message: `a galera cluster of ${count} member(s) loses quorum when one fails; list at least 3 instances`,
        },
      ];
    },
  },
];

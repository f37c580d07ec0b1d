// Recovery: where a restore comes from must be unambiguous and resolvable.
import type { ValidatingPolicy } from './policy-types.js';
import { recoverySite, type RecoverySite } from './object-sites.js';
import { DEFAULT_METHOD, isPhysicalMethod } from '../crds/api-constants.js';
import type { Cluster, LifeboatObject } from '../crds/kinds.js';
import type { RecoverySpec } from '../crds/recovery-types.js';

const RECOVERY_KINDS = ['Cluster', 'Restore'] as const;

/**
 * Why a point-in-time target cannot be honoured: said at admission (LB106), by `lifeboat check`,
 * and by the workers and restore-datadir should one reach them without the webhook.
 */
export const POINT_IN_TIME_REFUSAL =
  'point-in-time recovery is not available in this version of Lifeboat (it archives no binary logs yet): only a backup as it was taken can be restored; remove this target';

const STORED_POINT_IN_TIME =
  'a point-in-time target, stored before Lifeboat refused them: it is not honoured (no binary logs are archived), and restore-datadir into an empty data directory or a new Restore now refuses it; remove this target';

/** The recovery target of the stored object, on UPDATE. */
function storedTarget(old: LifeboatObject | undefined): RecoverySpec['recoveryTarget'] {
  if (old?.kind === 'Cluster') return old.spec.bootstrap?.recovery?.recoveryTarget;
  return old?.kind === 'Restore' ? old.spec.recoveryTarget : undefined;
}

/** The point-in-time target a recovery asks for, if any. */
export function pointInTimeField(
  target: { readonly targetTime?: string; readonly targetGTID?: string } | undefined,
): 'targetTime' | 'targetGTID' | undefined {
  if (target?.targetTime !== undefined) return 'targetTime';
  return target?.targetGTID === undefined ? undefined : 'targetGTID';
}

function externalEntry(site: RecoverySite): NonNullable<Cluster['spec']['externalClusters']>[number] | undefined {
  return site.owner?.spec.externalClusters?.find((e) => e.name === site.value.source);
}

export const recoveryPolicies: ValidatingPolicy[] = [
  {
    id: 'LB101',
    name: 'recovery-one-origin',
    category: 'recovery',
    severity: 'deny',
    kinds: RECOVERY_KINDS,
    rule: 'A recovery names exactly one origin: backup or source.',
    rationale: 'With both, which data comes back is ambiguous; with neither, there is nothing to restore.',
    check(ctx) {
      const site = recoverySite(ctx);
      if (!site) return [];
      const { backup, source } = site.value;
      if (backup && source !== undefined) {
        return [
          {
            path: [...site.path, 'source'],
            message:
              'backup and source are both set; keep backup to restore a Backup object, or source to restore from an external object store',
          },
        ];
      }
      if (!backup && source === undefined) {
        return [
          {
            path: site.path,
            message: 'nothing to restore from; set backup.name to a Backup, or source to an externalClusters entry',
          },
        ];
      }
      return [];
    },
  },
  {
    id: 'LB102',
    name: 'recovery-source-known',
    category: 'recovery',
    severity: 'deny',
    kinds: RECOVERY_KINDS,
    rule: "source names an entry of the Cluster's externalClusters.",
    rationale:
      'The entry says which object store and key prefix hold the backups; without it the restore fails with SourceNotFound.',
    check(ctx) {
      const site = recoverySite(ctx);
      if (!site || site.value.source === undefined || !site.owner || externalEntry(site)) return [];
      const names = site.owner.spec.externalClusters?.map((e) => e.name) ?? [];
      const known = names.length > 0 ? `its entries are ${names.join(', ')}` : 'it has none';
      return [
        {
          path: [...site.path, 'source'],
          message: `source "${site.value.source}" names no externalClusters entry of Cluster ${site.owner.metadata.name} (${known}); add the entry or fix the name`,
        },
      ];
    },
  },
  {
    id: 'LB103',
    name: 'recovery-source-object-store',
    category: 'recovery',
    severity: 'deny',
    kinds: RECOVERY_KINDS,
    rule: 'The externalClusters entry that source names has an objectStore.',
    rationale:
      'Backups of an external cluster are found only through its object store; without one the restore fails with SourceHasNoObjectStore.',
    check(ctx) {
      const site = recoverySite(ctx);
      const entry = site && externalEntry(site);
      if (!site?.owner || !entry || entry.objectStore) return [];
      const index = site.owner.spec.externalClusters?.indexOf(entry) ?? 0;
      const path = ctx.object.kind === 'Cluster' ? ['spec', 'externalClusters', index] : [...site.path, 'source'];
      return [
        {
          path,
          message: `externalClusters entry "${entry.name}" of Cluster ${site.owner.metadata.name} has no objectStore; add the bucket its backups live in`,
        },
      ];
    },
  },
  {
    id: 'LB104',
    name: 'recovery-backup-id-needs-source',
    category: 'recovery',
    severity: 'deny',
    kinds: RECOVERY_KINDS,
    rule: 'backupID is set only together with source.',
    rationale:
      'backupID picks a backup among those in an external object store; a Backup object already names exactly one.',
    check(ctx) {
      const site = recoverySite(ctx);
      if (!site || site.value.backupID === undefined || site.value.source !== undefined) return [];
      return [
        {
          path: [...site.path, 'backupID'],
          message: 'backupID is only used with source; remove it, or restore from source instead of backup',
        },
      ];
    },
  },
  {
    id: 'LB105',
    name: 'recovery-one-target',
    category: 'recovery',
    severity: 'deny',
    kinds: RECOVERY_KINDS,
    rule: 'recoveryTarget sets at most one of targetTime, targetGTID, targetImmediate.',
    rationale: 'Two stop points contradict each other; the restore would stop at whichever comes first, silently.',
    check(ctx) {
      const target = recoverySite(ctx)?.value.recoveryTarget;
      if (!target) return [];
      const set = [
        target.targetTime !== undefined && 'targetTime',
        target.targetGTID !== undefined && 'targetGTID',
        target.targetImmediate === true && 'targetImmediate',
      ].filter((x): x is string => x !== false);
      if (set.length <= 1) return [];
      const site = recoverySite(ctx);
      return [
        {
          path: [...(site?.path ?? []), 'recoveryTarget'],
          message: `recoveryTarget sets ${set.join(' and ')}; keep one`,
        },
      ];
    },
  },
  {
    id: 'LB106',
    name: 'recovery-pitr-needs-binlogs',
    category: 'recovery',
    severity: 'deny',
    kinds: RECOVERY_KINDS,
    rule: 'A targetTime or targetGTID needs archived binary logs, which this version of Lifeboat does not archive yet: both are refused (an update that keeps a stored one is warned).',
    rationale:
      'Point-in-time recovery replays archived binary logs; without them only the base backup would come back, not the point asked for, and a server would start on data the user did not ask for.',
    check(ctx) {
      const site = recoverySite(ctx);
      const target = site?.value.recoveryTarget;
      const field = pointInTimeField(target);
      if (!site || !field) return [];
      const path = [...site.path, 'recoveryTarget', field];
      // Refused when the target is new. One stored before this policy refused it belongs to a
      // bootstrap or a Restore that ran (or failed) long since: its other edits must go through,
      // but the user hears that a restore into an empty data directory would now refuse it.
      if (ctx.operation === 'UPDATE' && target?.[field] === storedTarget(ctx.old)?.[field]) {
        return [{ path, severity: 'warn', message: STORED_POINT_IN_TIME }];
      }
      return [{ path, message: POINT_IN_TIME_REFUSAL }];
    },
  },
  {
    id: 'LB107',
    name: 'restore-logical-only',
    category: 'recovery',
    severity: 'deny',
    kinds: ['Restore'],
    rule: 'A Restore into a running Cluster names a logical Backup (mariadb-dump, mysqldump); a physical one is restored with bootstrap.recovery and restore-datadir.',
    rationale:
      'A physical backup is a data directory: it can only be put in place before a server starts on it, never applied to a running one.',
    check(ctx) {
      if (ctx.object.kind !== 'Restore' || !ctx.object.spec.backup) return [];
      const name = ctx.object.spec.backup.name;
      const backup = ctx.neighbours.backup(ctx.namespace, name);
      const cluster = backup && ctx.neighbours.cluster(ctx.namespace, backup.spec.cluster.name);
      const method = backup?.status?.method ?? backup?.spec.method ?? (cluster && DEFAULT_METHOD[cluster.spec.engine]);
      if (!method || !isPhysicalMethod(method)) return [];
      return [
        {
          path: ['spec', 'backup', 'name'],
          message: `Backup ${name} is a physical backup (${method}), which cannot be applied to a running Cluster; restore it into a new Cluster with spec.bootstrap.recovery and lifeboat restore-datadir in the database pod's init container, or name a mariadb-dump Backup`,
        },
      ];
    },
  },
];

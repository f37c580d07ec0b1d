// Safety: a backup that cannot be trusted is worse than none, because it is believed.
import { ANNOTATION_UNSAFE_REASON, type BackupMethod, type Engine } from '../crds/api-constants.js';
import type { Cluster } from '../crds/kinds.js';
import { checkSchedule, formatSeconds, isTimeZone } from './cron-schedule.js';
import { backupSpecSite, clusterRefName, ownerCluster } from './object-sites.js';
import type { FieldPath, PolicyContext, ValidatingPolicy, Violation } from './policy-types.js';

/** Why a method cannot back up an engine, or undefined when it can. */
export function methodProblem(method: BackupMethod, engine: Engine, version: string | undefined): string | undefined {
  if (method === 'mariabackup' && engine !== 'mariadb') {
    return `mariabackup backs up MariaDB only; use xtrabackup or mysqldump for ${engine}`;
  }
  if (method === 'mariadb-dump' && engine !== 'mariadb') {
    // MySQL names the binary log position --source-data, which MariaDB's dump does not have.
    return `mariadb-dump backs up MariaDB only; use mysqldump or xtrabackup for ${engine}`;
  }
  if (method === 'xtrabackup' && engine === 'mariadb' && !isMariaDbBefore103(version)) {
    return `xtrabackup cannot back up MariaDB ${version ?? '10.3 or later'} (its redo log format changed in 10.3); use mariabackup or mariadb-dump`;
  }
  return undefined;
}

function isMariaDbBefore103(version: string | undefined): boolean {
  const match = version?.match(/^(\d+)\.(\d+)/);
  if (!match) return false;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major < 10 || (major === 10 && minor < 3);
}

function methodViolations(
  ctx: PolicyContext,
  cluster: Cluster | undefined,
  method: BackupMethod | undefined,
  path: FieldPath,
): Violation[] {
  if (!cluster || !method) return [];
  const problem = methodProblem(method, cluster.spec.engine, cluster.spec.version);
  if (!problem) return [];
  const message = `Cluster ${cluster.metadata.name}: ${problem}`;
  // A GitOps tool re-applies what it stored, and a started Backup's spec cannot change: refusing
  // every later edit of an object stored before this rule would leave it un-syncable. The runner
  // re-checks each Backup as new, so its backups still fail UnsupportedMethod.
  if (!hadProblemStored(ctx, method, problem)) return [{ path, message }];
  const fix =
    ctx.object.kind === 'Backup' ? 'delete this Backup and create one with another method' : 'change the method';
  return [
    {
      path,
      severity: 'warn',
      message: `${message} (stored before LB503 refused it: every backup with this method fails UnsupportedMethod; ${fix})`,
    },
  ];
}

/**
 * On UPDATE, whether the stored object had this very problem: the same method, and for a Cluster
 * the same verdict on its engine and version; for a Backup or a schedule, the same Cluster.
 */
function hadProblemStored(ctx: PolicyContext, method: BackupMethod, problem: string): boolean {
  const { old, object } = ctx;
  if (ctx.operation !== 'UPDATE' || !old || old.kind !== object.kind) return false;
  if (old.kind === 'Cluster') {
    const stored = old.spec.backup?.method;
    return stored === method && methodProblem(stored, old.spec.engine, old.spec.version) === problem;
  }
  return backupSpecSite(old)?.value.method === method && clusterRefName(old) === clusterRefName(object);
}

export const safetyPolicies: ValidatingPolicy[] = [
  {
    id: 'LB501',
    name: 'unsafe-needs-reason',
    category: 'safety',
    severity: 'deny',
    kinds: ['Backup'],
    rule: `allowUnsafe: true needs the annotation ${ANNOTATION_UNSAFE_REASON} saying why.`,
    rationale:
      'An unsafe backup may be inconsistent; the reason tells whoever restores it later what was traded away and why.',
    check(ctx) {
      if (ctx.object.kind !== 'Backup' || ctx.object.spec.allowUnsafe !== true) return [];
      if (ctx.object.metadata.annotations?.[ANNOTATION_UNSAFE_REASON]?.trim()) return [];
      return [
        {
          path: ['spec', 'allowUnsafe'],
          message: `allowUnsafe needs the annotation ${ANNOTATION_UNSAFE_REASON} saying why the cluster must be backed up unhealthy`,
        },
      ];
    },
  },
  {
    id: 'LB502',
    name: 'no-unsafe-schedules',
    category: 'safety',
    severity: 'deny',
    kinds: ['ScheduledBackup'],
    rule: 'A ScheduledBackup never sets allowUnsafe.',
    rationale:
      'An unsafe backup is a one-off decision by a person; on a schedule it would silently fill the bucket with backups nobody should trust.',
    check(ctx) {
      if (ctx.object.kind !== 'ScheduledBackup' || ctx.object.spec.backupTemplate.allowUnsafe !== true) return [];
      return [
        {
          path: ['spec', 'backupTemplate', 'allowUnsafe'],
          message:
            'allowUnsafe is not allowed on a schedule; remove it, and take a one-off Backup with allowUnsafe if you must',
        },
      ];
    },
  },
  {
    id: 'LB503',
    name: 'method-suits-engine',
    category: 'safety',
    severity: 'deny',
    kinds: ['Cluster', 'Backup', 'ScheduledBackup'],
    rule: 'The method suits the engine: mariabackup and mariadb-dump only for MariaDB, xtrabackup not for MariaDB 10.3 or later (an update that keeps the problem its stored object had is warned).',
    rationale:
      'The wrong tool either fails at run time (UnsupportedMethod) or, worse, writes an archive that does not restore.',
    check(ctx) {
      const obj = ctx.object;
      if (obj.kind === 'Cluster')
        return methodViolations(ctx, obj, obj.spec.backup?.method, ['spec', 'backup', 'method']);
      const site = backupSpecSite(obj);
      return site ? methodViolations(ctx, ownerCluster(ctx), site.value.method, [...site.path, 'method']) : [];
    },
  },
  {
    id: 'LB504',
    name: 'schedule-parses',
    category: 'safety',
    severity: 'deny',
    kinds: ['ScheduledBackup'],
    rule: 'schedule is a cron expression of 5 or 6 fields (or a macro such as @daily) and timeZone a known IANA zone.',
    rationale: 'A schedule that does not parse never fires, and nobody notices until a restore is needed.',
    check(ctx) {
      if (ctx.object.kind !== 'ScheduledBackup') return [];
      const { schedule, timeZone } = ctx.object.spec;
      const out: Violation[] = [];
      const parsed = checkSchedule(schedule);
      if (!parsed.ok) out.push({ path: ['spec', 'schedule'], message: `schedule "${schedule}" ${parsed.problem}` });
      if (timeZone !== undefined && !isTimeZone(timeZone)) {
        out.push({
          path: ['spec', 'timeZone'],
          message: `timeZone "${timeZone}" is not an IANA time zone; use a name such as Europe/Berlin or UTC`,
        });
      }
      return out;
    },
  },
  {
    id: 'LB505',
    name: 'schedule-not-too-frequent',
    category: 'safety',
    severity: 'deny',
    kinds: ['ScheduledBackup'],
    rule: 'schedule fires no more often than the configured floor (5 minutes unless set otherwise).',
    rationale:
      'Full backups back to back load the database and fill the bucket; protection between full backups is what archived binary logs are for, once Lifeboat archives them.',
    check(ctx) {
      if (ctx.object.kind !== 'ScheduledBackup') return [];
      const parsed = checkSchedule(ctx.object.spec.schedule);
      const floor = ctx.settings.minScheduleIntervalSeconds;
      if (!parsed.ok || parsed.minIntervalSeconds >= floor) return [];
      return [
        {
          path: ['spec', 'schedule'],
          message: `schedule "${ctx.object.spec.schedule}" fires every ${formatSeconds(parsed.minIntervalSeconds)}, more often than the floor of ${formatSeconds(floor)}; space the runs out`,
        },
      ];
    },
  },
  {
    id: 'LB506',
    name: 'retention-keeps-one',
    category: 'safety',
    severity: 'deny',
    kinds: ['Cluster'],
    rule: 'retention.keep is at least 1.',
    rationale: 'keep: 0 would delete every backup, including the one a restore needs.',
    check(ctx) {
      if (ctx.object.kind !== 'Cluster') return [];
      const keep = ctx.object.spec.backup?.retention?.keep;
      if (keep === undefined || keep >= 1) return [];
      return [
        {
          path: ['spec', 'backup', 'retention', 'keep'],
          message: `keep: ${keep} would remove every backup; keep at least 1`,
        },
      ];
    },
  },
  {
    id: 'LB507',
    name: 'backup-online-only',
    category: 'safety',
    severity: 'deny',
    kinds: ['Backup', 'ScheduledBackup'],
    rule: 'online is true or absent: Lifeboat backs up only while the database runs.',
    rationale:
      'online: false would mean stopping the database first, and Lifeboat does not stop databases it does not run; a Backup that asked for it would be taken online anyway, which is not what was asked.',
    check(ctx) {
      const site = backupSpecSite(ctx.object);
      if (!site || site.value.online !== false) return [];
      return [
        {
          path: [...site.path, 'online'],
          message:
            'online: false is not supported: Lifeboat does not stop databases it does not run, and every method it uses backs up a running database consistently; remove the field or set online: true',
        },
      ];
    },
  },
  {
    id: 'LB508',
    name: 'binlog-archive-not-available',
    category: 'safety',
    severity: 'warn',
    kinds: ['Cluster'],
    rule: 'binlogArchive is not enabled: this version of Lifeboat archives no binary logs yet.',
    rationale:
      'A Cluster that asks for binary log archiving looks protected between its full backups; until Lifeboat archives them, only the full backups can be restored, and the data written since the last one is lost in a disaster.',
    check(ctx) {
      if (ctx.object.kind !== 'Cluster' || ctx.object.spec.backup?.binlogArchive?.enabled !== true) return [];
      return [
        {
          path: ['spec', 'backup', 'binlogArchive', 'enabled'],
          message:
            'this version of Lifeboat archives no binary logs yet: only full backups can be restored, so schedule full backups as often as the data loss you can accept; remove binlogArchive, or keep it for when archiving is available',
        },
      ];
    },
  },
];

// References: what an object names must exist where Lifeboat will look for it. Against the API a
// missing neighbour is a fact; in a folder of manifests it may simply live elsewhere, so offline
// most of these only warn.
import type { ObjectStoreSpec } from '../crds/object-store-types.js';
import type { LifeboatObject } from '../crds/kinds.js';
import { DEFAULT_TARGET, EXPIRED_CONDITION } from '../crds/api-constants.js';
import { backupSpecSite, clusterRefName, objectStoreSites, ownerCluster, recoverySite } from './object-sites.js';
import type { FieldPath, PolicyContext, ValidatingPolicy, Violation } from './policy-types.js';

interface SecretUse {
  readonly path: FieldPath;
  readonly name: string;
  readonly keys: readonly string[];
}

function storeSecretUses(path: FieldPath, store: ObjectStoreSpec): SecretUse[] {
  const refs: [string, { name: string; key: string } | undefined][] = [
    ['accessKeyId', store.credentials?.accessKeyId],
    ['secretAccessKey', store.credentials?.secretAccessKey],
    ['sessionToken', store.credentials?.sessionToken],
  ];
  const uses = refs.flatMap(([field, ref]) =>
    ref ? [{ path: [...path, 'credentials', field], name: ref.name, keys: [ref.key] }] : [],
  );
  const ca = store.tls?.caSecretRef;
  return ca ? [...uses, { path: [...path, 'tls', 'caSecretRef'], name: ca.name, keys: [ca.key] }] : uses;
}

export function secretUses(obj: LifeboatObject): SecretUse[] {
  const uses = objectStoreSites(obj).flatMap((site) => storeSecretUses(site.path, site.value));
  if (obj.kind !== 'Cluster') return uses;
  const creds = obj.spec.credentials;
  uses.push({
    path: ['spec', 'credentials', 'secretRef'],
    name: creds.secretRef.name,
    keys: [creds.usernameKey ?? 'username', creds.passwordKey ?? 'password'],
  });
  const ca = creds.tls?.caSecretRef;
  if (ca) uses.push({ path: ['spec', 'credentials', 'tls', 'caSecretRef'], name: ca.name, keys: [ca.key] });
  const cert = creds.tls?.clientCertSecretRef;
  if (cert)
    uses.push({
      path: ['spec', 'credentials', 'tls', 'clientCertSecretRef'],
      name: cert.name,
      keys: ['tls.crt', 'tls.key'],
    });
  return uses;
}

function checkSecretUse(ctx: PolicyContext, use: SecretUse): Violation[] {
  const secret = ctx.neighbours.secret(ctx.namespace, use.name);
  if (secret) {
    if (secret.anyKey) return [];
    const missing = use.keys.filter((k) => !secret.keys.includes(k));
    if (missing.length === 0) return [];
    const has = secret.keys.length > 0 ? `it has ${secret.keys.join(', ')}` : 'it has no keys';
    return [
      {
        path: use.path,
        message: `Secret ${use.name} has no key ${missing.join(', ')} (${has}); add the key or fix the reference`,
      },
    ];
  }
  const elsewhere = ctx.neighbours.secretNamespaces(use.name).filter((ns) => ns !== ctx.namespace);
  if (elsewhere.length === 0 && ctx.neighbours.secretsListed) {
    return [
      {
        path: use.path,
        message: `Secret ${use.name} does not exist in namespace ${ctx.namespace}; create it, or fix the name`,
      },
    ];
  }
  if (elsewhere.length === 0) return [];
  return [
    {
      path: use.path,
      severity: 'warn',
      message: `Secret ${use.name} is in namespace ${elsewhere.join(', ')}, but Lifeboat reads Secrets from ${ctx.namespace}, the namespace of this ${ctx.object.kind}; create it there`,
    },
  ];
}

/** The Backup a Cluster's bootstrap.recovery or a Restore names, if any. */
function recoveryBackupName(obj: LifeboatObject | undefined): string | undefined {
  if (obj?.kind === 'Cluster') return obj.spec.bootstrap?.recovery?.backup?.name;
  if (obj?.kind === 'Restore') return obj.spec.backup?.name;
  return undefined;
}

function missingBackup(ctx: PolicyContext, path: FieldPath, name: string): Violation {
  if (!ctx.neighbours.authoritative) {
    return {
      path,
      severity: 'warn',
      message: `Backup ${name} is not among the given manifests; it must exist in namespace ${ctx.namespace} and be completed when this is applied`,
    };
  }
  const instead =
    ctx.object.kind === 'Cluster'
      ? 'to bootstrap from the bucket instead, set spec.bootstrap.recovery.source to an externalClusters entry, and backupID'
      : 'a restore that ran before its Backup was deleted need not run again: drop it from Git, or restore with source and backupID';
  return {
    path,
    message: `Backup ${name} does not exist in namespace ${ctx.namespace}; name a completed Backup (${instead})`,
  };
}

function completedBackupCheck(ctx: PolicyContext, path: FieldPath, name: string): Violation[] {
  // Checked when the name is new. A recovery keeps naming its Backup after the restore ran, when
  // retention may have deleted that Backup: an edit of the Cluster, or a GitOps tool applying the
  // same Restore again, must not be refused for it.
  if (ctx.operation === 'UPDATE' && recoveryBackupName(ctx.old) === name) return [];
  const backup = ctx.neighbours.backup(ctx.namespace, name);
  if (!backup) return [missingBackup(ctx, path, name)];
  const expired = expiredMessage(backup.status?.conditions);
  if (expired !== undefined && ctx.neighbours.authoritative) {
    return [
      {
        path,
        message: `Backup ${name} expired: retention deleted its archive and metadata.json (${expired}); name a newer completed Backup`,
      },
    ];
  }
  return unfinishedBackup(ctx, path, name, backup.status?.phase);
}

/** The message of a True Expired condition ("no message" without one); undefined when not expired. */
function expiredMessage(
  conditions: readonly { type: string; status: string; message?: string | undefined }[] | undefined,
): string | undefined {
  const expired = conditions?.find((c) => c.type === EXPIRED_CONDITION && c.status === 'True');
  return expired ? (expired.message ?? 'no message') : undefined;
}

function unfinishedBackup(ctx: PolicyContext, path: FieldPath, name: string, phase: string | undefined): Violation[] {
  const { authoritative } = ctx.neighbours;
  if (phase === 'completed' || (phase === undefined && !authoritative)) return [];
  return [
    {
      path,
      severity: authoritative ? 'deny' : 'warn',
      message: `Backup ${name} is ${phase ?? 'pending'}, not completed; wait for it to complete or name another Backup`,
    },
  ];
}

const NAMED_TARGETS = new Set([DEFAULT_TARGET, 'primary']);

export const referencePolicies: ValidatingPolicy[] = [
  {
    id: 'LB601',
    name: 'secret-keys-exist',
    category: 'references',
    severity: 'deny',
    kinds: ['Cluster', 'Backup', 'ScheduledBackup'],
    rule: 'A referenced Secret lives in the same namespace and, when it is known, holds the referenced keys.',
    rationale:
      'Lifeboat reads Secrets only from the namespace of the resource; a missing key fails every backup with ConnectionFailed or UploadFailed.',
    check: (ctx) => secretUses(ctx.object).flatMap((use) => checkSecretUse(ctx, use)),
  },
  {
    id: 'LB602',
    name: 'recovery-backup-completed',
    category: 'references',
    severity: 'deny',
    kinds: ['Cluster', 'Restore'],
    rule: 'The Backup a recovery names exists in the same namespace, is completed and not expired, checked when the name is new (offline: a warning when it is not among the manifests).',
    rationale:
      'Restoring from a Backup that is missing, running or failed can only fail, after the target was already touched.',
    check(ctx) {
      const site = recoverySite(ctx);
      const backup = site?.value.backup;
      return site && backup ? completedBackupCheck(ctx, [...site.path, 'backup', 'name'], backup.name) : [];
    },
  },
  {
    id: 'LB603',
    name: 'cluster-exists',
    category: 'references',
    severity: 'warn',
    kinds: ['Backup', 'ScheduledBackup', 'Restore'],
    rule: 'The Cluster a Backup, ScheduledBackup or Restore names exists in the same namespace.',
    rationale:
      'Without it the work fails with ClusterNotFound; a warning, not a denial, because GitOps tools may apply the Cluster a moment later.',
    check(ctx) {
      const name = clusterRefName(ctx.object);
      if (name === undefined || ctx.neighbours.has('Cluster', ctx.namespace, name)) return [];
      const path =
        ctx.object.kind === 'ScheduledBackup'
          ? ['spec', 'backupTemplate', 'cluster', 'name']
          : ['spec', 'cluster', 'name'];
      const where = ctx.neighbours.authoritative
        ? `does not exist in namespace ${ctx.namespace}`
        : 'is not among the given manifests';
      const then =
        ctx.object.kind === 'Restore'
          ? 'the Restore waits (pending, WaitingForCluster) until it exists'
          : 'the work fails with ClusterNotFound unless it exists when it runs';
      return [{ path, message: `Cluster ${name} ${where}; cluster-dependent checks were skipped, and ${then}` }];
    },
  },
  {
    id: 'LB604',
    name: 'target-instance-known',
    category: 'references',
    severity: 'deny',
    kinds: ['Cluster', 'Backup', 'ScheduledBackup'],
    rule: "A target other than prefer-standby or primary names one of the Cluster's static instances.",
    rationale: 'A target that names no instance has nothing to back up from and fails with NoHealthySource.',
    check(ctx) {
      const cluster = ownerCluster(ctx);
      const site = backupSpecSite(ctx.object);
      const [target, path] = site
        ? [site.value.target, [...site.path, 'target']]
        : [cluster?.spec.backup?.target, ['spec', 'backup', 'target']];
      const instances = cluster?.spec.instances.static;
      if (target === undefined || NAMED_TARGETS.has(target) || !instances) return [];
      if (instances.some((i) => i.name === target)) return [];
      return [
        {
          path,
          message: `target "${target}" is not prefer-standby, primary, or an instance of Cluster ${cluster?.metadata.name} (${instances.map((i) => i.name).join(', ')})`,
        },
      ];
    },
  },
];

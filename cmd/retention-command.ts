// `lifeboat retention plan`: what retention would remove and why, and what it keeps and why —
// against the API server (--namespace and --cluster: the Cluster's Backups, Restores and bootstraps
// as they are now) or against a bucket (the object-store flags or --cluster-manifest: the backup
// folders it holds). It changes nothing. The rule is the Cluster's spec.backup.retention, or
// --keep / --max-age to try another.
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../crds/durations.js';
import type { Cluster } from '../crds/kinds.js';
import { messageOf } from '../lib/error-message.js';
import type { BackupLike, ClusterLike, RestoreLike } from '../runner/retention/retention-inputs.js';
import type { RetentionDecision, RetentionPlan, RetentionRule } from '../runner/retention/retention-plan.js';
import { UsageError } from './cli-options.js';
import { addStoreOptions, type StoreLocation, type StoreOptions } from './object-store-source.js';

const OUTPUTS = ['table', 'json'] as const;
type Output = (typeof OUTPUTS)[number];

export interface RetentionPlanOptions extends StoreOptions {
  readonly namespace?: string | undefined;
  readonly keep?: number | undefined;
  readonly maxAge?: string | undefined;
  readonly output?: Output | undefined;
}

/** The API calls the plan reads with; the KubeClient has them. */
export interface PlanKube {
  getLifeboat(kind: 'Cluster', namespace: string, name: string): Promise<unknown>;
  listLifeboat(
    kind: 'Backup' | 'Restore' | 'Cluster',
    namespace: string,
  ): Promise<{ readonly items: readonly unknown[] }>;
}

/** Where the plan reads from; tests pass their own. */
export interface PlanSources {
  readonly now?: () => Date;
  readonly kube?: () => Promise<PlanKube>;
  readonly store?: (opts: StoreOptions) => Promise<StoreLocation>;
}

function maxAgeOption(text: string): string {
  if (parseDuration(text) === undefined) throw new InvalidArgumentError('write a duration such as 7d, 36h or 1w.');
  return text;
}

function keepOption(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1) throw new InvalidArgumentError('write a whole number of at least 1.');
  return n;
}

const ACTION_WORDS: Readonly<Record<RetentionDecision['action'], string>> = {
  delete: 'delete',
  expire: 'expire',
  keep: 'keep',
};

/** The plan as lines a person reads: one per backup, newest first, then a summary. */
export function formatPlan(plan: RetentionPlan, heading: string): string {
  const rows = plan.decisions.map((d) => [
    ACTION_WORDS[d.action],
    d.candidate.name,
    d.candidate.backupId ?? '-',
    d.candidate.phase,
    d.reason,
  ]);
  const header = ['ACTION', 'BACKUP', 'BACKUP ID', 'PHASE', 'WHY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  const count = (a: RetentionDecision['action']): number => plan.decisions.filter((d) => d.action === a).length;
  const summary = [
    `${count('delete')} to delete, ${count('expire')} to expire (objects deleted, the Backup from Git stays), ${count('keep')} kept`,
    ...(plan.alreadyExpired.length > 0 ? [`already expired: ${plan.alreadyExpired.join(', ')}`] : []),
    'this is a plan: nothing was changed',
  ];
  const table = rows.length === 0 ? ['no backups'] : [header, ...rows].map(line);
  return `${[heading, ...table, ...summary].join('\n')}\n`;
}

async function theRule(opts: RetentionPlanOptions, cluster: Cluster | undefined, what: string): Promise<RetentionRule> {
  const { retentionRule } = await import('../runner/retention/retention-plan.js');
  const own = cluster?.spec.backup?.retention;
  const asked = { keep: opts.keep ?? own?.keep, maxAge: opts.maxAge ?? own?.maxAge };
  let rule: RetentionRule | undefined;
  try {
    rule = retentionRule(asked);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (!rule) throw new UsageError(`${what} has no spec.backup.retention; give --keep N and/or --max-age DURATION`);
  return rule;
}

async function fromApi(opts: RetentionPlanOptions, sources: PlanSources, now: Date): Promise<[RetentionPlan, string]> {
  const namespace = opts.namespace ?? '';
  if (opts.cluster === undefined) throw new UsageError('--namespace needs --cluster NAME (the Cluster to plan for)');
  const kube = await (sources.kube ?? defaultKube)();
  const cluster = (await kube.getLifeboat('Cluster', namespace, opts.cluster)) as Cluster | undefined;
  if (!cluster) throw new UsageError(`Cluster ${namespace}/${opts.cluster} not found; check --namespace and --cluster`);
  const rule = await theRule(opts, cluster, `Cluster ${namespace}/${opts.cluster}`);
  const [backups, restores, clusters] = await Promise.all([
    kube.listLifeboat('Backup', namespace),
    kube.listLifeboat('Restore', namespace),
    kube.listLifeboat('Cluster', namespace),
  ]);
  const inputs = await import('../runner/retention/retention-inputs.js');
  const { planRetention, describeRule } = await import('../runner/retention/retention-plan.js');
  const own = (backups.items as BackupLike[]).filter((b) => b.spec.cluster.name === opts.cluster);
  const plan = planRetention({
    rule,
    candidates: own.map(inputs.candidateOfBackup),
    uses: inputs.backupUses(restores.items as RestoreLike[], clusters.items as ClusterLike[]),
    now,
  });
  return [
    plan,
    `retention of Cluster ${namespace}/${opts.cluster} (${describeRule(rule)}) as of ${now.toISOString()}:`,
  ];
}

async function fromBucket(
  opts: RetentionPlanOptions,
  sources: PlanSources,
  now: Date,
): Promise<[RetentionPlan, string]> {
  const store = await (sources.store ?? defaultStore)(opts);
  try {
    const cluster = opts.source === undefined ? store.manifestCluster : undefined;
    const rule = await theRule(opts, cluster, cluster ? `Cluster "${cluster.metadata.name ?? ''}"` : 'the bucket');
    const { listBackups } = await import('../runner/restores/backup-listing.js');
    const { candidateOfListed } = await import('../runner/retention/retention-inputs.js');
    const { planRetention, describeRule } = await import('../runner/retention/retention-plan.js');
    const { lockedUntil, readObjectLock } = await import('../runner/data-path/object-lock-read.js');
    const listed = await listBackups(store);
    // A lock that cannot be read leaves the plan as the rules say; removal asks the store again.
    const lockOf = async (key: string): Promise<Date | undefined> =>
      lockedUntil(await readObjectLock(store.client, store.bucket, key).catch(() => undefined), now);
    const candidates = await Promise.all(listed.map(async (l) => candidateOfListed(l, await lockOf(l.metadataKey))));
    const plan = planRetention({ rule, candidates, uses: [], now });
    return [plan, `retention of ${store.where} (${describeRule(rule)}) as of ${now.toISOString()}:`];
  } finally {
    store.client.destroy();
  }
}

async function defaultKube(): Promise<PlanKube> {
  const { KubeClient } = await import('../lib/kube-client.js');
  try {
    return KubeClient.fromEnvironment();
  } catch (err) {
    if ((err as { reason?: unknown }).reason !== undefined) throw err;
    // An unreadable kubeconfig file is the user's to fix, not a bug.
    throw new UsageError(`cannot load the kubeconfig: ${messageOf(err)}; set KUBECONFIG to a readable file`);
  }
}

async function defaultStore(opts: StoreOptions): Promise<StoreLocation> {
  const { storeFromOptions } = await import('./object-store-source.js');
  return storeFromOptions(opts);
}

/** The plan's text (or JSON) for the options; changes nothing. */
export async function retentionPlanOutput(opts: RetentionPlanOptions, sources: PlanSources = {}): Promise<string> {
  const now = (sources.now ?? ((): Date => new Date()))();
  const [plan, heading] =
    opts.namespace === undefined ? await fromBucket(opts, sources, now) : await fromApi(opts, sources, now);
  if (opts.output === 'json') return `${JSON.stringify(plan, null, 2)}\n`;
  return formatPlan(plan, heading);
}

export function retentionCommand(root: Command): void {
  const retention = root.command('retention').description("show what a Cluster's backup retention removes");
  addStoreOptions(retention.command('plan'))
    .description('print which backups retention would remove and which it keeps, each with why; changes nothing')
    .addHelpText(
      'after',
      '\nWith --namespace and --cluster: the Cluster, its Backups and Restores as the API server holds them\n' +
        '(kubeconfig). Otherwise: the backup folders the bucket holds (--cluster-manifest FILE, or --bucket\n' +
        'and --cluster). The rule is spec.backup.retention unless --keep or --max-age is given.',
    )
    .option('-n, --namespace <namespace>', 'read the Cluster, its Backups and Restores from the API server')
    .option('--keep <n>', 'keep this many completed backups (overrides spec.backup.retention.keep)', keepOption)
    .option(
      '--max-age <duration>',
      'remove completed backups older than this, e.g. 7d (overrides maxAge)',
      maxAgeOption,
    )
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUTS).default('table'))
    .action(async (opts: RetentionPlanOptions) => {
      process.stdout.write(await retentionPlanOutput(opts));
    });
}

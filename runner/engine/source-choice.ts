// Which instance a backup reads from, and under which waived checks. Pure: the observations come
// in as reports, the decision (or the failure saying what to fix) comes out.
//
// Rules, per topology (target defaults to prefer-standby):
// - galera: first the gate: every member reachable, ready, connected, Primary, Synced, and the
//   cluster size equal to the number of instances; otherwise UnsafeClusterError, unless
//   allowUnsafe, which waives the failed checks and records them. Then the target:
//   prefer-standby takes the Synced non-writer with the highest ordinal; with none (a one-member
//   cluster, or an unhealthy one under allowUnsafe) the writer, if it is reachable. primary takes
//   the writer; an instance name takes that instance. The source is desynced during the backup
//   whenever it is not the writer, so it never holds back the cluster's flow control. A member
//   another backup reads (`busy`) is never chosen: prefer-standby takes the next Synced standby,
//   and with none free, or a busy named target, the choice says to wait (SourceBusyError).
// - replication: prefer-standby takes the replica with the highest ordinal whose threads both run
//   and whose lag is under the limit, else the writer (a primary is always a consistent source,
//   so falling back to it needs no waiver). A named replica that fails those checks needs
//   allowUnsafe. The health of replicas not chosen does not matter.
// - standalone: the one instance, whatever the target says (a name must match it).
// A chosen instance that cannot be reached fails with its ConnectionFailedError (it says what to
// fix); access denied anywhere fails the same way, since every member shares the credentials.
import { NoHealthySourceError, UnsafeClusterError, type ConnectionFailedError } from '../work-failures.js';
import { ANNOTATION_UNSAFE_REASON } from '../../crds/api-constants.js';
import { writerOf, type DbInstance } from './instance-list.js';
import {
  describeProblems,
  galeraProblems,
  isSynced,
  replicaProblems,
  type GaleraStatus,
  type MemberReport,
  type ReplicaStatus,
} from './source-health.js';

export type Topology = 'standalone' | 'replication' | 'galera';

/** A member as the choice sees it: a report plus, when connecting failed, the typed failure. */
export type Observed<S> = MemberReport<S> & {
  readonly failure?: ConnectionFailedError;
  readonly accessDenied?: boolean;
};

export interface ChoiceInput {
  readonly clusterName: string;
  readonly topology: Topology;
  /** prefer-standby (default), primary, or an instance name. */
  readonly target?: string | undefined;
  readonly allowUnsafe?: boolean | undefined;
  readonly instances: readonly DbInstance[];
  /** galera: one report per instance. */
  readonly galera?: readonly Observed<GaleraStatus>[];
  /** replication: one report per instance (the writer's status is not judged). */
  readonly replicas?: readonly Observed<ReplicaStatus>[];
  readonly maxLagSeconds?: number;
  /** galera: members another backup is reading now; never chosen (one backup per member). */
  readonly busy?: ReadonlySet<string>;
}

/**
 * Every member the target allows is being backed up by another Backup: not a failure, the worker
 * waits and chooses again.
 */
export class SourceBusyError extends Error {
  constructor(readonly members: readonly string[]) {
    super(`${members.join(', ')} ${members.length === 1 ? 'is' : 'are'} being backed up by another Backup`);
  }
}

export interface SourceChoice {
  readonly instance: DbInstance;
  /** Set wsrep_desync=ON on the source for the duration of the backup. */
  readonly desync: boolean;
  /** Checks that failed and were waived by allowUnsafe; empty for a safe backup. */
  readonly waived: readonly string[];
  /** Why this instance, for logs and events. */
  readonly why: string;
}

export const PREFER_STANDBY = 'prefer-standby';
export const PRIMARY = 'primary';

/** Decides the source instance; throws UnsafeCluster, NoHealthySource or ConnectionFailed errors. */
export function chooseSource(input: ChoiceInput): SourceChoice {
  const reports: readonly Observed<unknown>[] = input.galera ?? input.replicas ?? [];
  const denied = reports.find((r) => r.accessDenied && r.failure);
  if (denied?.failure) throw denied.failure;
  const target = input.target ?? PREFER_STANDBY;
  checkTargetName(input, target);
  if (input.topology === 'galera') return chooseGalera(input, target);
  if (input.topology === 'replication') return chooseReplica(input, target);
  return chooseStandalone(input, target);
}

function checkTargetName(input: ChoiceInput, target: string): void {
  if (target === PREFER_STANDBY || target === PRIMARY) return;
  if (input.instances.some((i) => i.name === target)) return;
  const names = input.instances.map((i) => i.name).join(', ');
  throw new NoHealthySourceError(
    `Cluster ${input.clusterName}: target '${target}' names no instance; use ${PREFER_STANDBY}, ${PRIMARY} or one of: ${names}`,
  );
}

function named(input: ChoiceInput, target: string): DbInstance {
  if (target === PREFER_STANDBY || target === PRIMARY) return writerOf(input.instances);
  return input.instances.find((i) => i.name === target) ?? writerOf(input.instances);
}

function reportOf<S>(reports: readonly Observed<S>[] | undefined, instance: DbInstance): Observed<S> | undefined {
  return reports?.find((r) => r.instance.name === instance.name);
}

/** The chosen instance must answer; its own connection failure says best what to fix. */
function reachable<S>(input: ChoiceInput, report: Observed<S> | undefined, instance: DbInstance): void {
  if (report?.failure) throw report.failure;
  if (report?.unreachable !== undefined) {
    throw new NoHealthySourceError(
      `Cluster ${input.clusterName}: instance ${instance.name} cannot be read (${report.unreachable}); check that it runs`,
    );
  }
}

function unsafeHint(): string {
  return `fix the cluster, or set spec.allowUnsafe: true with annotation ${ANNOTATION_UNSAFE_REASON} on a one-off Backup`;
}

function chooseGalera(input: ChoiceInput, target: string): SourceChoice {
  const reports = input.galera ?? [];
  const problems = galeraProblems(gateView(reports, input.busy));
  if (problems.length > 0 && !input.allowUnsafe) {
    const everyoneDown = reports.every((r) => r.failure);
    const writerReport = reportOf(reports, writerOf(input.instances));
    if (everyoneDown && writerReport?.failure) throw writerReport.failure;
    throw new UnsafeClusterError(
      `Cluster ${input.clusterName}: Galera is not safe to back up: ${describeProblems(problems)}; ${unsafeHint()}`,
    );
  }
  const waived = problems.map((p) => `${p.instance}: ${p.problems.join(', ')}`);
  // Standbys another Backup desynced are still standbys, only busy: the choice waits for one.
  const instance = galeraTarget(input, gateView(reports, input.busy), target);
  const report = reportOf(reports, instance);
  if (target === PREFER_STANDBY && instance.writer) noFallback(input, report, describeProblems(problems));
  reachable(input, report, instance);
  const desync = !instance.writer && report !== undefined && isSynced(report);
  return { instance, desync, waived, why: galeraWhy(target, instance) };
}

/** prefer-standby found no standby and the writer cannot be read either: nothing is left. */
function noFallback<S>(input: ChoiceInput, writerReport: Observed<S> | undefined, problems: string): void {
  if (writerReport?.failure === undefined && writerReport?.unreachable === undefined) return;
  throw new NoHealthySourceError(
    `Cluster ${input.clusterName}: no instance to back up from (${problems}); bring a member back or name a reachable one in spec.target`,
  );
}

/**
 * A member another Backup holds and has desynced for its backup is where that backup left it, not a
 * sick member: the gate sees it as Synced. It is never chosen (busy).
 */
function gateView(
  reports: readonly Observed<GaleraStatus>[],
  busy: ReadonlySet<string> | undefined,
): readonly Observed<GaleraStatus>[] {
  return reports.map((r) =>
    busy?.has(r.instance.name) && r.status?.wsrep_local_state_comment === DESYNCED_FOR_BACKUP
      ? { ...r, status: { ...r.status, wsrep_local_state_comment: 'Synced' } }
      : r,
  );
}

const DESYNCED_FOR_BACKUP = 'Donor/Desynced';

function galeraTarget(input: ChoiceInput, reports: readonly Observed<GaleraStatus>[], target: string): DbInstance {
  const instance = target === PREFER_STANDBY ? galeraStandby(input, reports) : named(input, target);
  if (input.busy?.has(instance.name)) throw new SourceBusyError([instance.name]);
  return instance;
}

/**
 * The Synced standby of the highest ordinal that no other backup reads. When every Synced standby
 * is busy the backup waits for one (SourceBusyError) rather than fall back to the writer.
 */
function galeraStandby(input: ChoiceInput, reports: readonly Observed<GaleraStatus>[]): DbInstance {
  const standbys = reports
    .filter((r) => !r.instance.writer && isSynced(r))
    .map((r) => r.instance)
    .sort((a, b) => b.ordinal - a.ordinal);
  const free = standbys.filter((i) => !input.busy?.has(i.name));
  if (standbys.length > 0 && free.length === 0) throw new SourceBusyError(standbys.map((i) => i.name));
  return free[0] ?? writerOf(input.instances);
}

function galeraWhy(target: string, instance: DbInstance): string {
  if (target !== PREFER_STANDBY) return `target ${target}`;
  return instance.writer ? 'prefer-standby: no Synced member other than the writer' : 'prefer-standby: Synced standby';
}

function chooseReplica(input: ChoiceInput, target: string): SourceChoice {
  const maxLag = input.maxLagSeconds;
  if (target === PREFER_STANDBY) {
    const healthy = (input.replicas ?? [])
      .filter((r) => !r.instance.writer && replicaProblems(r, maxLag).length === 0)
      .map((r) => r.instance)
      .sort((a, b) => b.ordinal - a.ordinal);
    const instance = healthy[0] ?? writerOf(input.instances);
    if (instance.writer) noFallback(input, reportOf(input.replicas, instance), replicationProblems(input));
    const why = instance.writer ? 'prefer-standby: no healthy replica, backing up the primary' : 'healthy replica';
    return { instance, desync: false, waived: [], why };
  }
  const instance = named(input, target);
  const report = reportOf(input.replicas, instance);
  reachable(input, report, instance);
  const problems = instance.writer || !report ? [] : replicaProblems(report, maxLag);
  if (problems.length > 0 && !input.allowUnsafe) {
    throw new UnsafeClusterError(
      `Cluster ${input.clusterName}: replica ${instance.name} is not safe to back up: ${problems.join(', ')}; ${unsafeHint()}`,
    );
  }
  const waived = problems.map((p) => `${instance.name}: ${p}`);
  return { instance, desync: false, waived, why: `target ${target}` };
}

function replicationProblems(input: ChoiceInput): string {
  const problems = (input.replicas ?? []).map((r) =>
    r.instance.writer
      ? { instance: r.instance.name, problems: r.unreachable === undefined ? [] : [`unreachable: ${r.unreachable}`] }
      : { instance: r.instance.name, problems: replicaProblems(r, input.maxLagSeconds) },
  );
  return describeProblems(problems.filter((p) => p.problems.length > 0));
}

function chooseStandalone(input: ChoiceInput, target: string): SourceChoice {
  const instance = named(input, target);
  return { instance, desync: false, waived: [], why: 'standalone: the only instance' };
}

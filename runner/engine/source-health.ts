// Whether members are fit to back up from. Pure: the readers in source-status.ts fetch the
// values, these functions judge them, so every rule is tested with tables.
import type { DbInstance } from './instance-list.js';

/** The wsrep status variables the Galera gate reads, with the value a healthy member reports. */
export const GALERA_EXPECTED = {
  wsrep_ready: 'ON',
  wsrep_connected: 'ON',
  wsrep_cluster_status: 'Primary',
  wsrep_local_state_comment: 'Synced',
} as const;

export const GALERA_STATUS_NAMES = [...Object.keys(GALERA_EXPECTED), 'wsrep_cluster_size'] as const;

/** One member as observed: its status values, or why it could not be read. */
export interface MemberReport<S> {
  readonly instance: DbInstance;
  readonly status?: S;
  /** Why the member could not be reached or read (already free of secrets). */
  readonly unreachable?: string;
}

export type GaleraStatus = Readonly<Record<string, string>>;

/** What is wrong with one member, in the words of the values it reported. */
export interface MemberProblem {
  readonly instance: string;
  readonly problems: readonly string[];
}

/** The problems of one Galera member; none when it is Synced in a Primary component of the expected size. */
export function galeraMemberProblems(report: MemberReport<GaleraStatus>, expectedSize: number): string[] {
  if (report.unreachable !== undefined || !report.status) return [`unreachable: ${report.unreachable ?? 'no status'}`];
  const status = report.status;
  const problems: string[] = [];
  for (const [name, want] of Object.entries(GALERA_EXPECTED)) {
    const got = status[name];
    if (got !== want) problems.push(`${name}=${got ?? '(absent)'} (want ${want})`);
  }
  const size = status['wsrep_cluster_size'];
  if (size !== String(expectedSize)) problems.push(`wsrep_cluster_size=${size ?? '(absent)'} (want ${expectedSize})`);
  return problems;
}

/** Every unhealthy member of a Galera cluster whose size should be the number of reports. */
export function galeraProblems(reports: readonly MemberReport<GaleraStatus>[]): MemberProblem[] {
  return reports
    .map((r) => ({ instance: r.instance.name, problems: galeraMemberProblems(r, reports.length) }))
    .filter((p) => p.problems.length > 0);
}

/** Whether a member can serve as a Galera backup source: reachable and Synced. */
export function isSynced(report: MemberReport<GaleraStatus>): boolean {
  return report.unreachable === undefined && report.status?.['wsrep_local_state_comment'] === 'Synced';
}

/** A replica's replication state; MariaDB and MySQL name the columns differently, readers normalise. */
export interface ReplicaStatus {
  /** False when the instance replicates from nothing (SHOW REPLICA STATUS is empty). */
  readonly configured: boolean;
  readonly ioRunning: boolean;
  readonly sqlRunning: boolean;
  /** Seconds behind the primary; null when the server does not know (a thread is stopped). */
  readonly lagSeconds: number | null;
}

export const DEFAULT_MAX_LAG_SECONDS = 300;

/** The problems of a replica as a backup source; none when both threads run and lag is under the limit. */
export function replicaProblems(
  report: MemberReport<ReplicaStatus>,
  maxLagSeconds: number = DEFAULT_MAX_LAG_SECONDS,
): string[] {
  if (report.unreachable !== undefined || !report.status) return [`unreachable: ${report.unreachable ?? 'no status'}`];
  const s = report.status;
  if (!s.configured) return ['not replicating (SHOW REPLICA STATUS is empty)'];
  const problems: string[] = [];
  if (!s.ioRunning) problems.push('IO thread not running');
  if (!s.sqlRunning) problems.push('SQL thread not running');
  if (s.lagSeconds === null) problems.push('lag unknown');
  else if (s.lagSeconds > maxLagSeconds) problems.push(`lag ${s.lagSeconds} s (limit ${maxLagSeconds} s)`);
  return problems;
}

/** "node1: a, b; node3: c", the way messages list problems. */
export function describeProblems(problems: readonly MemberProblem[]): string {
  return problems.map((p) => `${p.instance}: ${p.problems.join(', ')}`).join('; ');
}

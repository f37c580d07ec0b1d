// Which backups retention removes (docs/design.md, "Retention"): a pure function over a listing —
// the Cluster's Backups from the API, or what a bucket holds — so the rules are tested with tables
// and the I/O that lists and deletes sits apart (retention-run.ts).
//
// The rules, in the order they are asked:
// - the newest completed backup is always kept: it is the one a disaster recovery takes; so is the
//   newest completed backup of each kind, logical and physical, since a Restore takes only the
//   one and restore-datadir only the other;
// - a backup that a pending or running Restore or Cluster bootstrap names, or has chosen, is kept;
// - pending and running backups are kept (they have not ended);
// - with `keep` and `maxAge` both set, a backup is kept when EITHER rule keeps it: it goes only when
//   both let it go. Retention is there to bound cost, never to leave fewer backups than the user
//   asked for by either rule;
// - failed backups are ranked among the failed ones: the newest `keep` of them stay for diagnosis,
//   the others go (their objects, and the open multipart upload they may have left) by the same rules;
// - a backup the rules let go whose objects are under Object Lock stays until the lock ends.
import type { BackupKind } from '../../crds/api-constants.js';
import { backupIdTime, completedBy, newerBackupFirst } from '../../crds/object-keys.js';
import { parseDuration } from '../../crds/durations.js';

export type BackupOrigin = 'schedule' | 'git' | 'bucket';
export type CandidatePhase = 'pending' | 'running' | 'completed' | 'failed';

/** One backup retention decides about: a Backup object, or a backup folder in the bucket. */
export interface RetentionCandidate {
  /** The Backup name (the backup folder's name in the bucket). */
  readonly name: string;
  readonly backupId?: string | undefined;
  readonly phase: CandidatePhase;
  /** When it ended (completed or failed): its age. */
  readonly endedAt?: Date | undefined;
  /**
   * `schedule`: a ScheduledBackup created it, the object goes too; `git`: it came from Git, only its
   * objects go and it stays, Expired; `bucket`: a folder in the bucket, its objects go.
   */
  readonly origin: BackupOrigin;
  /** A Backup from Git already expired: never processed again. */
  readonly expired?: boolean | undefined;
  /** Its objects are under Object Lock until then (as the Backup recorded): they cannot go before. */
  readonly lockedUntil?: Date | undefined;
  /** What it can be restored into, from its method; undefined when that is not known. */
  readonly kind?: BackupKind | undefined;
}

/** A restore that will read a backup: by Backup name, or by backup ID (source + backupID). */
export interface BackupUse {
  readonly backupName?: string | undefined;
  readonly backupId?: string | undefined;
  /**
   * A bootstrap from `source` that has not chosen yet: it will take the newest backup (either kind,
   * in the order restores take) complete at this instant, its Cluster's creation.
   */
  readonly completedBy?: Date | undefined;
  /** Who uses it, for the reason: "Restore shop/r1", "the bootstrap of Cluster shop/db2". */
  readonly by: string;
}

export interface RetentionRule {
  readonly keep?: number | undefined;
  /** As written, for messages: `7d`. */
  readonly maxAge?: string | undefined;
  readonly maxAgeSeconds?: number | undefined;
}

export type RetentionAction = 'delete' | 'expire' | 'keep';

export interface RetentionDecision {
  readonly candidate: RetentionCandidate;
  /** delete: objects (and a scheduled Backup object) go; expire: objects go, a Git Backup stays Expired. */
  readonly action: RetentionAction;
  readonly reason: string;
  /** Kept only because its objects are locked `until`; the rules would remove it, for `reason`. */
  readonly locked?: { readonly until: Date; readonly reason: string } | undefined;
}

export interface RetentionPlan {
  /** Every candidate not expired before, newest first. */
  readonly decisions: readonly RetentionDecision[];
  /** Git Backups expired by an earlier run: nothing left to do. */
  readonly alreadyExpired: readonly string[];
}

/** spec.backup.retention is not usable; the message says what to write. */
export class RetentionRuleError extends Error {
  readonly reason = 'InvalidRetention';
  readonly retryable = false;
}

/** The rule from spec.backup.retention; undefined when it asks for nothing (no keep, no maxAge). */
export function retentionRule(
  spec: { readonly keep?: number | undefined; readonly maxAge?: string | undefined } | undefined,
): RetentionRule | undefined {
  if (!spec || (spec.keep === undefined && spec.maxAge === undefined)) return undefined;
  if (spec.keep !== undefined && (!Number.isInteger(spec.keep) || spec.keep < 1)) {
    throw new RetentionRuleError(
      `retention keep ${spec.keep} is not a whole number of at least 1; write keep: 1 or more`,
    );
  }
  if (spec.maxAge === undefined) return { keep: spec.keep };
  const seconds = parseDuration(spec.maxAge);
  if (seconds === undefined || seconds <= 0) {
    throw new RetentionRuleError(`retention maxAge "${spec.maxAge}" is not a duration; write e.g. 7d, 36h or 1w`);
  }
  return { keep: spec.keep, maxAge: spec.maxAge, maxAgeSeconds: seconds };
}

/** The rule in words: "keep 2, maxAge 7d". */
export function describeRule(rule: RetentionRule): string {
  const parts = [rule.keep === undefined ? '' : `keep ${rule.keep}`, rule.maxAge ? `maxAge ${rule.maxAge}` : ''];
  return parts.filter((p) => p !== '').join(', ');
}

/** 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st. */
export function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/** When the candidate ended; a bucket backup without metadata dates from its backup ID. */
function endTime(c: RetentionCandidate): number {
  // Work that has not ended is newer than anything that has.
  if (c.phase === 'pending' || c.phase === 'running') return Number.MAX_SAFE_INTEGER;
  if (c.endedAt) return c.endedAt.getTime();
  try {
    return c.backupId ? backupIdTime(c.backupId).getTime() : 0;
  } catch {
    return 0;
  }
}

function newestFirst(a: RetentionCandidate, b: RetentionCandidate): number {
  return endTime(b) - endTime(a) || (b.backupId ?? '').localeCompare(a.backupId ?? '') || b.name.localeCompare(a.name);
}

function usedBy(c: RetentionCandidate, uses: readonly BackupUse[]): string | undefined {
  const use = uses.find(
    (u) =>
      (u.backupName !== undefined && u.backupName === c.name && c.origin !== 'bucket') ||
      (u.backupId !== undefined && u.backupId === c.backupId),
  );
  return use?.by;
}

function removal(c: RetentionCandidate): RetentionAction {
  return c.origin === 'git' ? 'expire' : 'delete';
}

interface Ranked {
  readonly candidate: RetentionCandidate;
  /** 1 for the newest of its group (completed, or failed). */
  readonly rank: number;
  /** The first of its group with its kind (logical, physical), by end time or in the order restores take. */
  readonly newestOfKind: boolean;
}

/** Who takes the newest completed backup of a kind, for the reason it is kept. */
const TAKEN_BY: Record<BackupKind, string> = {
  logical: 'a Restore takes only logical ones',
  physical: 'restore-datadir takes only physical ones',
};

/** Why the rules let it go, or undefined when one of them keeps it (then `kept` says which). */
function judge(r: Ranked, rule: RetentionRule, now: Date): { goes: boolean; reason: string } {
  const failed = r.candidate.phase === 'failed';
  const newest = `${ordinal(r.rank)} newest${failed ? ' failed' : ''}`;
  const ended = endTime(r.candidate);
  const when = `${failed ? 'failed' : 'completed'} ${ended > 0 ? new Date(ended).toISOString() : 'at an unknown time'}`;
  const withinKeep = rule.keep !== undefined && r.rank <= rule.keep;
  const young = rule.maxAgeSeconds !== undefined && now.getTime() - ended <= rule.maxAgeSeconds * 1000;
  if (withinKeep) return { goes: false, reason: `kept: within keep ${rule.keep} (${newest})` };
  if (young) return { goes: false, reason: `kept: younger than maxAge ${rule.maxAge} (${when})` };
  const why = [
    rule.keep === undefined ? '' : `beyond keep ${rule.keep} (${newest})`,
    rule.maxAgeSeconds === undefined ? '' : `older than maxAge ${rule.maxAge} (${when})`,
  ].filter((s) => s !== '');
  return { goes: true, reason: `${failed ? 'failed, ' : ''}${why.join(' and ')}` };
}

function newestOfKindReason(c: RetentionCandidate): string {
  return c.kind
    ? `kept: newest completed ${c.kind} backup (${TAKEN_BY[c.kind]})`
    : 'kept: newest completed backup whose method is not recorded (it may be the one a restore takes)';
}

function decide(r: Ranked, rule: RetentionRule, uses: readonly BackupUse[], now: Date): RetentionDecision {
  const c = r.candidate;
  if (c.phase === 'pending' || c.phase === 'running')
    return { candidate: c, action: 'keep', reason: `kept: ${c.phase}` };
  if (c.phase === 'completed' && r.rank === 1) {
    return { candidate: c, action: 'keep', reason: 'kept: newest completed backup' };
  }
  const verdict = judge(r, rule, now);
  if (c.phase === 'completed' && r.newestOfKind) {
    // The rule the user wrote explains itself better, when it keeps the backup too.
    return { candidate: c, action: 'keep', reason: verdict.goes ? newestOfKindReason(c) : verdict.reason };
  }
  const user = usedBy(c, uses);
  if (user) return { candidate: c, action: 'keep', reason: `kept: used by ${user}` };
  if (!verdict.goes) return { candidate: c, action: 'keep', reason: verdict.reason };
  if (c.lockedUntil && c.lockedUntil.getTime() > now.getTime()) {
    // Deleting a locked object only hides it behind a delete marker (or is refused): it stays.
    const until = c.lockedUntil.toISOString();
    return {
      candidate: c,
      action: 'keep',
      reason: `kept: under Object Lock until ${until} (${verdict.reason}); retention removes it after that`,
      locked: { until: c.lockedUntil, reason: verdict.reason },
    };
  }
  return { candidate: c, action: removal(c), reason: verdict.reason };
}

/**
 * The first of each kind in `order`. Ranks follow when a backup ended, but a restore takes the
 * greatest backup ID (newerBackupFirst): with backups that overlap (two members, or a long dump
 * begun before a short one) the two orders differ, and both firsts are kept.
 */
function firstOfEachKind(
  group: readonly RetentionCandidate[],
  order: (a: RetentionCandidate, b: RetentionCandidate) => number,
): Set<RetentionCandidate> {
  const seen = new Set<BackupKind | undefined>();
  const firsts = new Set<RetentionCandidate>();
  for (const candidate of [...group].sort(order)) {
    if (seen.has(candidate.kind)) continue;
    seen.add(candidate.kind);
    firsts.add(candidate);
  }
  return firsts;
}

function restoreOrder(a: RetentionCandidate, b: RetentionCandidate): number {
  return newerBackupFirst(
    { backupId: a.backupId ?? '', backupName: a.name },
    { backupId: b.backupId ?? '', backupName: b.name },
  );
}

/** The backup a bootstrap will take: the first, in the order restores take, complete at `at`. */
function newestCompletedBy(candidates: readonly RetentionCandidate[], at: Date, by: string): BackupUse[] {
  const inTime = (c: RetentionCandidate): boolean => c.endedAt !== undefined && completedBy(c.endedAt, at);
  const [first] = candidates.filter((c) => c.phase === 'completed' && inTime(c)).sort(restoreOrder);
  return first ? [{ backupName: first.name, backupId: first.backupId, by }] : [];
}

function ranked(candidates: readonly RetentionCandidate[], phase: CandidatePhase): Ranked[] {
  const group = candidates.filter((c) => c.phase === phase);
  const newest = new Set([...firstOfEachKind(group, newestFirst), ...firstOfEachKind(group, restoreOrder)]);
  return group
    .sort(newestFirst)
    .map((candidate, i) => ({ candidate, rank: i + 1, newestOfKind: newest.has(candidate) }));
}

/** What retention keeps and removes, and why; newest first. Changes nothing. */
export function planRetention(input: {
  readonly rule: RetentionRule;
  readonly candidates: readonly RetentionCandidate[];
  readonly uses: readonly BackupUse[];
  readonly now: Date;
}): RetentionPlan {
  const live = input.candidates.filter((c) => !c.expired);
  const all: Ranked[] = [
    ...ranked(live, 'pending'),
    ...ranked(live, 'running'),
    ...ranked(live, 'completed'),
    ...ranked(live, 'failed'),
  ];
  const uses = input.uses.flatMap((u) => (u.completedBy ? newestCompletedBy(live, u.completedBy, u.by) : [u]));
  const decisions = all
    .map((r) => decide(r, input.rule, uses, input.now))
    .sort((a, b) => newestFirst(a.candidate, b.candidate));
  return { decisions, alreadyExpired: input.candidates.filter((c) => c.expired).map((c) => c.name) };
}

/** The removals of a plan, oldest first: stopped midway, what remains is never older than what went. */
export function removals(plan: RetentionPlan): RetentionDecision[] {
  return plan.decisions.filter((d) => d.action !== 'keep').reverse();
}

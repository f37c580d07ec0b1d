// What a Backup's outcome looks like in its Ready condition and its Event: pure helpers of the
// Backup reconciler.
import type { FailureReason } from '../../crds/failure-reasons.js';
import type { Backup } from '../../crds/kinds.js';
import { getCondition, REASONS, type ConditionInput } from './conditions.js';
import type { EventInput } from './event-recorder.js';

/** RFC 3339 to the second, as Kubernetes writes times. */
export function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** What the Ready condition says once a Backup has ended. */
export function outcomeCondition(backup: Backup): ConditionInput {
  const status = backup.status ?? {};
  if (status.phase === 'completed') {
    const where = status.destinationPath ? ` at ${status.destinationPath}` : '';
    return {
      type: 'Ready',
      status: 'True',
      reason: REASONS.BackupCompleted,
      message: `the backup is complete${where}`,
    };
  }
  return {
    type: 'Ready',
    status: 'False',
    reason: (status.reason as FailureReason | undefined) ?? REASONS.BackupFailed,
    message: status.error ?? 'the backup failed',
  };
}

export function outcomeEvent(backup: Backup): EventInput {
  const s = backup.status ?? {};
  if (s.phase === 'completed') {
    const detail = [s.size === undefined ? '' : `${s.size} bytes`, s.sha256 ? `sha256 ${s.sha256}` : '']
      .filter((d) => d)
      .join(', ');
    const where = s.destinationPath ? ` to ${s.destinationPath}` : '';
    return { type: 'Normal', reason: REASONS.BackupCompleted, message: `backup completed${where} (${detail})` };
  }
  const why = s.error ?? 'no reason recorded';
  return { type: 'Warning', reason: REASONS.BackupFailed, message: `backup failed (${s.reason ?? 'unknown'}): ${why}` };
}

/** Whether the Ready condition already tells the outcome the phase records. */
export function readyMatches(backup: Backup): boolean {
  const wanted = outcomeCondition(backup);
  const ready = getCondition(backup.status, 'Ready');
  return ready?.status === wanted.status && ready.reason === wanted.reason;
}

export function needsAnnouncing(backup: Backup): boolean {
  return !readyMatches(backup) || getCondition(backup.status, 'WorkerRunning')?.status === 'True';
}

export function workerEnded(message: string): ConditionInput {
  return { type: 'WorkerRunning', status: 'False', reason: REASONS.WorkerEnded, message };
}

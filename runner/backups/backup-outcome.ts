// What a Backup's outcome looks like in its Ready condition and its Event: pure helpers of the
// Backup reconciler.
import type { FailureReason } from '../../crds/failure-reasons.js';
import type { Backup } from '../../crds/kinds.js';
import { REASONS, type ConditionInput } from '../status/conditions.js';
import type { EventInput } from '../status/event-recorder.js';

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

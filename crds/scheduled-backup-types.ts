// ScheduledBackup: creates a Backup on a cron schedule.
import { Type } from '@sinclair/typebox';
import { backupSpecFields } from './backup-types.js';
import { Bool, Conditions, Int, Str, StringEnum, Strict } from './schema-helpers.js';

export const ScheduledBackupSpec = Strict(
  {
    schedule: Str({
      description: 'Cron schedule, 5 fields (minute hour day month weekday) or 6 (seconds first), e.g. "0 3 * * *".',
      minLength: 1,
      maxLength: 256,
    }),
    timeZone: Type.Optional(
      Str({ description: 'IANA time zone of the schedule, e.g. Europe/Berlin; UTC when absent.', maxLength: 64 }),
    ),
    suspend: Type.Optional(Bool({ description: 'Create no Backups while true.' })),
    immediate: Type.Optional(Bool({ description: 'Also create a Backup as soon as the ScheduledBackup is created.' })),
    concurrencyPolicy: Type.Optional(
      StringEnum(['Forbid', 'Allow', 'Replace'] as const, {
        description:
          'What to do when a tick comes while the previous Backup still runs; Forbid (skip the tick) when absent.',
      }),
    ),
    startingDeadlineSeconds: Type.Optional(
      Int({
        description:
          'How late a missed tick may still start, e.g. after the runner was down or while the lead changed hands: ' +
          'the newest missed tick is caught up once if it is not older; when absent, it is caught up however old ' +
          '(as a CronJob does); 0 never catches up.',
        minimum: 0,
      }),
    ),
    backupTemplate: Strict(backupSpecFields, { description: 'The spec of every Backup this schedule creates.' }),
  },
  { description: 'When to back up, and how.' },
);

export const ScheduledBackupStatus = Strict(
  {
    lastScheduleTime: Type.Optional(
      Str({ description: 'The tick the newest Backup of this schedule was created for.', format: 'date-time' }),
    ),
    nextScheduleTime: Type.Optional(Str({ description: 'When the next Backup will be created.', format: 'date-time' })),
    lastSkippedTime: Type.Optional(
      Str({
        description: 'The newest tick skipped because a Backup of this schedule still ran (concurrencyPolicy Forbid).',
        format: 'date-time',
      }),
    ),
    lastSuccessfulBackup: Type.Optional(
      Str({ description: 'Name of the newest completed Backup of this schedule.', maxLength: 253 }),
    ),
    lastFailedBackup: Type.Optional(
      Str({ description: 'Name of the newest failed Backup of this schedule.', maxLength: 253 }),
    ),
    conditions: Type.Optional(Conditions()),
  },
  { description: 'What the schedule last did.' },
);

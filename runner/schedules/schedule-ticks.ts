// When a ScheduledBackup fires, computed by node-cron (the parser the policies check schedules
// with, so what is admitted is exactly what runs), and what a tick is called. docs/runner.md,
// "Schedules".
import { createHash } from 'node:crypto';
import { createTask, validateDetailed, type ScheduledTask, type TaskFn } from 'node-cron';
import { NAME_MAX } from '../../crds/api-constants.js';

/** A schedule's expression and zone, as in the spec. */
export interface Timing {
  readonly schedule: string;
  /** IANA zone; UTC when absent. */
  readonly timeZone?: string | undefined;
}

/** How late node-cron may start a tick before it counts it missed: the catch-up handles those. */
const LATE_TOLERANCE_MS = 30_000;

/** A node-cron task for the timing, not started; `onTick` is given each tick's scheduled time. */
export function cronTask(timing: Timing, onTick: (tick: Date) => void): ScheduledTask {
  const fire: TaskFn = (context) => onTick(context.date);
  return createTask(timing.schedule, fire, {
    timezone: timing.timeZone ?? 'UTC',
    missedExecutionTolerance: LATE_TOLERANCE_MS,
    suppressMissedWarning: true,
  });
}

/**
 * The newest tick in (after, upTo], or undefined. node-cron only looks ahead, so this steps back
 * from `upTo` minute by minute, trying each second the expression names; it stops at the first
 * tick found, so it walks at most one period of the schedule, or back to `after`.
 */
export function latestTick(task: ScheduledTask, timing: Timing, after: Date, upTo: Date): Date | undefined {
  const seconds = secondsOf(timing.schedule);
  const floor = after.getTime();
  const top = Math.floor(upTo.getTime() / 1000) * 1000;
  for (let minute = top - (top % 60_000); minute + 59_000 > floor; minute -= 60_000) {
    for (let i = seconds.length - 1; i >= 0; i--) {
      const at = minute + (seconds[i] ?? 0) * 1000;
      if (at > top || at <= floor) continue;
      const date = new Date(at);
      if (task.match(date)) return date;
    }
  }
  return undefined;
}

/** The next tick after now, or null when the expression names none in node-cron's horizon (a century). */
export function nextRun(task: ScheduledTask): Date | null {
  try {
    const next = task.getNextRuns(1)[0];
    return next && Number.isFinite(next.getTime()) ? next : null;
  } catch {
    return null;
  }
}

function secondsOf(schedule: string): readonly number[] {
  const second = validateDetailed(schedule).fields?.second ?? [0];
  return [...second].sort((a, b) => a - b);
}

/**
 * `<schedule>-<yyyymmddhhmmss>`, the tick's wall time in the schedule's zone: known before the
 * Backup exists, so a tick that is fired twice (two leaders, a catch-up racing the timer, the hour
 * repeated when clocks go back) creates one Backup. The schedule's name is cut to fit 253.
 */
export function backupNameFor(scheduleName: string, tick: Date, timeZone: string | undefined): string {
  const stamp = wallTime(tick, timeZone ?? 'UTC');
  return `${fitName(scheduleName, NAME_MAX - stamp.length - 1)}-${stamp}`;
}

/** The schedule's name as a label value (at most 63): cut, with a hash of the whole, when longer. */
export function scheduleLabelValue(scheduleName: string): string {
  return fitName(scheduleName, 63);
}

function fitName(name: string, max: number): string {
  if (name.length <= max) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, max - 9).replace(/[-.]+$/, '')}-${hash}`;
}

const wallFormats = new Map<string, Intl.DateTimeFormat>();

function wallTime(date: Date, timeZone: string): string {
  let format = wallFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    wallFormats.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts['year']}${parts['month']}${parts['day']}${parts['hour']}${parts['minute']}${parts['second']}`;
}

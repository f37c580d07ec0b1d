// Schedules are parsed by node-cron, the same parser the runner schedules with, so what passes
// here is exactly what runs.
import { validateDetailed } from 'node-cron';

export type ScheduleCheck =
  { readonly ok: true; readonly minIntervalSeconds: number } | { readonly ok: false; readonly problem: string };

const DAY = 86_400;
const FIELD_NAMES = ['minute', 'hour', 'day', 'month', 'weekday'];
const FORM =
  'write 5 fields (minute hour day month weekday) such as "0 3 * * *", 6 with seconds first, or a macro such as @daily';

// Parsing costs ~80µs and a repository repeats the same few schedules; bounded for the webhook.
const checked = new Map<string, ScheduleCheck>();
const CACHE_LIMIT = 4096;

export function checkSchedule(expression: string): ScheduleCheck {
  let result = checked.get(expression);
  if (!result) {
    if (checked.size >= CACHE_LIMIT) checked.clear();
    result = parseSchedule(expression);
    checked.set(expression, result);
  }
  return result;
}

/**
 * node-cron lists every value of a range before checking its bounds, so "0-99999999" would take
 * seconds and gigabytes; no cron field goes above 59, so such numbers are refused before it runs.
 */
function outOfRange(fields: readonly string[]): string | undefined {
  const names = fields.length === 6 ? ['second', ...FIELD_NAMES] : FIELD_NAMES;
  for (const [i, field] of fields.entries()) {
    const big = field.match(/\d+/g)?.find((n) => Number(n) > 59);
    if (big !== undefined) return `${names[i] ?? 'field'}: ${big} is out of range`;
  }
  return undefined;
}

function parseSchedule(expression: string): ScheduleCheck {
  const fields = expression.trim().split(/\s+/);
  const fieldCount = fields.length;
  const macro = expression.trim().startsWith('@');
  if (!macro && fieldCount !== 5 && fieldCount !== 6) {
    return {
      ok: false,
      problem: `has ${fieldCount} fields; ${FORM}`,
    };
  }
  const big = macro ? undefined : outOfRange(fields);
  if (big !== undefined) return { ok: false, problem: `${big}; ${FORM}` };
  const result = validateDetailed(expression);
  if (!result.valid || !result.fields) {
    const why = result.errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'does not parse';
    return { ok: false, problem: `${why}; ${FORM}` };
  }
  const { second, minute, hour } = result.fields;
  return { ok: true, minIntervalSeconds: minGapSeconds(second, minute, hour) };
}

/**
 * The shortest time between two runs within a day, and across midnight as if the schedule ran on
 * consecutive days. Day, month and weekday fields only ever lengthen gaps, so this is the bound to
 * compare a floor against.
 */
function minGapSeconds(seconds: number[], minutes: number[], hours: number[]): number {
  const unique = new Set<number>();
  for (const h of hours) for (const m of minutes) for (const s of seconds) unique.add(h * 3600 + m * 60 + s);
  // "0,0 3 * * *" names one time twice; it still fires once a day.
  const times = [...unique].sort((a, b) => a - b);
  const first = times[0] ?? 0;
  let gap = DAY;
  for (let i = 1; i < times.length; i++) gap = Math.min(gap, (times[i] ?? 0) - (times[i - 1] ?? 0));
  return Math.min(gap, first + DAY - (times[times.length - 1] ?? 0));
}

// Building a DateTimeFormat costs ~20µs; a repository names few zones many times.
const knownZones = new Map<string, boolean>();

export function isTimeZone(zone: string): boolean {
  let known = knownZones.get(zone);
  if (known === undefined) {
    if (knownZones.size >= CACHE_LIMIT) knownZones.clear();
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      known = true;
    } catch {
      known = false;
    }
    knownZones.set(zone, known);
  }
  return known;
}

export function formatSeconds(total: number): string {
  const units: [number, string][] = [
    [86_400, 'd'],
    [3600, 'h'],
    [60, 'm'],
    [1, 's'],
  ];
  let rest = total;
  let out = '';
  for (const [size, unit] of units) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out || '0s';
}

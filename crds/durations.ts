// The duration format of the API (retention.maxAge, rpo, binlogArchive.interval): 30d, 26h, 1h30m.
import { DURATION_PATTERN } from './api-constants.js';

const SECONDS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const whole = new RegExp(DURATION_PATTERN);

/** Seconds in a duration, or undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  if (!whole.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h|d|w)/g))
    total += Number(amount) * (SECONDS[unit ?? 's'] ?? 1);
  return total;
}

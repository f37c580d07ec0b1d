// Flag parsers the subcommands share; each failure tells the user what to write instead.
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../crds/durations.js';

export function durationOption(text: string): number {
  const seconds = parseDuration(text);
  if (seconds === undefined) throw new InvalidArgumentError('write a duration such as 5m, 1h or 90s.');
  return seconds;
}

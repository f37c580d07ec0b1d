// Flag parsers the subcommands share; each failure tells the user what to write instead.
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../crds/durations.js';
import { parseHostPatterns } from '../policies/host-patterns.js';

/** A mistake in how Lifeboat was called: exit 2 with a message, never a stack trace. */
export class UsageError extends Error {}

export function durationOption(text: string): number {
  const seconds = parseDuration(text);
  if (seconds === undefined) throw new InvalidArgumentError('write a duration such as 5m, 1h or 90s.');
  return seconds;
}

/** --allowed-endpoints, --allowed-db-hosts: comma-separated host patterns (policies/host-patterns.ts). */
export function hostPatternsOption(text: string): string[] {
  try {
    const patterns = parseHostPatterns(text);
    if (patterns.length === 0) throw new RangeError('name at least one host pattern');
    return patterns;
  } catch (err) {
    throw new InvalidArgumentError(`${err instanceof Error ? err.message : String(err)}.`);
  }
}

/** Resolves once SIGTERM or SIGINT has stopped the running service (webhook, runner) cleanly. */
export function untilStopped(log: { info(obj: object, msg: string): void }, stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping');
      // A stop that fails still ends the process; what failed is said first.
      stop().then(resolve, (err: unknown) => {
        log.info({ err: err instanceof Error ? err.message : String(err) }, 'stopped with an error');
        resolve();
      });
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}

// The one logger: pino JSON lines on stderr, one per event. Level from LIFEBOAT_LOG_LEVEL.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function levelFromEnv(): string {
  const wanted = process.env['LIFEBOAT_LOG_LEVEL'] ?? 'info';
  return (LEVELS as readonly string[]).includes(wanted) ? wanted : 'info';
}

/**
 * A logger for one component (`webhook`, `runner`, `worker`). Fields that could carry a secret are
 * censored wherever they appear, as a second line of defence: callers never log them on purpose.
 */
export function createLogger(component: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level: levelFromEnv(),
      base: { component },
      redact: {
        paths: ['password', '*.password', 'secretAccessKey', '*.secretAccessKey', 'key', '*.key', 'authorization'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

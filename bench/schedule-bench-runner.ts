// The runner the schedule bench measures, in a process of its own so that its peak RSS is its
// own: the ScheduledBackup reconciler only (the Backups it creates are never run), watching the
// bench's namespace, leading through a Lease there. Prints "ready" once leading; stops on SIGTERM.
import { pino } from 'pino';
import { startRunner } from '../runner/runner-main.js';

const namespace = process.env['BENCH_NAMESPACE'];
if (!namespace) throw new Error('BENCH_NAMESPACE is not set');
const runner = await startRunner(
  {
    namespace,
    lease: { namespace, name: 'bench-runner' },
    listen: { host: '127.0.0.1', port: 0 },
    executor: 'process',
    reconcilers: ['ScheduledBackup'],
  },
  { log: pino({ level: process.env['LIFEBOAT_LOG_LEVEL'] ?? 'warn' }, pino.destination(2)) },
);
const ready = setInterval(() => {
  if (!runner.isLeader()) return;
  clearInterval(ready);
  process.stdout.write(`ready ${runner.port}\n`);
}, 100);
process.once('SIGTERM', () => {
  void runner.stop().then(() => process.exit(0));
});

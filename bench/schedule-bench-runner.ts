// The runner the schedule bench measures, in a process of its own so that its peak RSS is its
// own: the ScheduledBackup reconciler only (the Backups it creates are never run), watching the
// bench's namespace, leading through a Lease there. Prints "ready" once leading; stops on SIGTERM,
// printing to stderr the peak of each part of its memory (sampled every 250 ms), so that the
// bench's peak RSS can be told apart: V8's heap, memory outside it (buffers), and the rest (code,
// the runtime's own, and pages the allocator keeps).
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
const peaks = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
const sampler = setInterval(() => {
  const now = process.memoryUsage();
  for (const part of Object.keys(peaks) as (keyof typeof peaks)[]) peaks[part] = Math.max(peaks[part], now[part]);
}, 250);
const ready = setInterval(() => {
  if (!runner.isLeader()) return;
  clearInterval(ready);
  process.stdout.write(`ready ${runner.port}\n`);
}, 100);
process.once('SIGTERM', () => {
  clearInterval(sampler);
  const mib = (bytes: number): string => (bytes / 1_048_576).toFixed(0);
  const parts = Object.entries(peaks).map(([part, bytes]) => `${part} ${mib(bytes)}`);
  process.stderr.write(`bench runner memory peaks (MiB, sampled): ${parts.join(', ')}\n`);
  void runner.stop().then(() => process.exit(0));
});

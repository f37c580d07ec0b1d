// Peak memory and wall time of uploadArchive streaming a large archive into the stack's MinIO,
// beside `mc pipe` of the same bytes into the same bucket. Both read the bytes from a pipe on
// stdin, as the worker reads the backup tool's stdout. Prints figures; asserts nothing.
//   npm run build && node dist/bench/archive-upload-bench.js [--mib 1024] [--compression none|gzip]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { Compression } from '../crds/object-keys.js';
import { minioClient } from '../e2e/support/stack-objects.js';
import { stackEnv } from '../e2e/support/stack.js';
import { uploadArchive } from '../runner/data-path/archive-upload.js';

const MiB = 1024 * 1024;
const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '1024' },
    compression: { type: 'string', default: 'none' },
    child: { type: 'boolean', default: false },
    key: { type: 'string', default: '' },
  },
});

/** In the child: stdin → uploadArchive, then one JSON line with what the upload reported. */
async function child(): Promise<void> {
  const client = minioClient();
  const result = await uploadArchive({
    client,
    bucket: stackEnv().S3_BUCKET ?? '',
    key: values.key ?? '',
    source: process.stdin,
    compression: values.compression as Compression,
  });
  client.destroy();
  process.stdout.write(`${JSON.stringify({ size: result.size, sha256: result.sha256 })}\n`);
}

interface Run {
  readonly seconds: number;
  readonly peakRssMiB: number;
  /** User + system CPU: steadier than wall time on a shared machine. */
  readonly cpuSeconds: number;
  readonly stdout: string;
}

/** Runs `command` under /usr/bin/time, feeding it `mib` MiB of incompressible bytes on stdin. */
function measure(command: string, args: string[], mib: number, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const proc = spawn('/usr/bin/time', ['-f', 'maxrss_kib=%M cpu_s=%U+%S', command, ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const m = /maxrss_kib=(\d+) cpu_s=([\d.]+)\+([\d.]+)/.exec(stderr);
      if (code !== 0 || !m) reject(new Error(`${command} exited ${String(code)}: ${stderr.trim()}`));
      else resolve({ seconds, peakRssMiB: Number(m[1]) / 1024, cpuSeconds: Number(m[2]) + Number(m[3]), stdout });
    });
    void feed(proc.stdin, mib).catch(reject);
  });
}

async function feed(stdin: NodeJS.WritableStream, mib: number): Promise<void> {
  // One random MiB, its first bytes varied per MiB: cheap to make, and nothing a store could dedupe.
  const block = randomBytes(MiB);
  for (let i = 0; i < mib; i++) {
    block.writeUInt32BE(i, 0);
    if (!stdin.write(Buffer.from(block))) await new Promise((resolve) => stdin.once('drain', resolve));
  }
  stdin.end();
}

async function main(): Promise<void> {
  const env = stackEnv();
  const mib = Number(values.mib);
  const bucket = env.S3_BUCKET ?? '';
  const prefix = `bench/archive-upload-${randomBytes(4).toString('hex')}`;
  const self = fileURLToPath(import.meta.url);
  const mc = `${(env.LIFEBOAT_BIN_PATH ?? '').split(':').find((d) => d.includes('/mc-')) ?? ''}/mc`;
  const client = minioClient();
  const runs: Array<[string, string, Run]> = [];
  try {
    for (const size of [16, mib]) {
      const oursKey = `${prefix}/ours-${size}.bin`;
      const ours = await measure(
        process.execPath,
        [self, '--child', '--key', oursKey, '--compression', values.compression ?? 'none'],
        size,
        process.env,
      );
      runs.push([`uploadArchive (${values.compression})`, `${size} MiB`, ours]);
      const mcKey = `${prefix}/mc-${size}.bin`;
      // mc's default part is 528 MiB; with 16 MiB parts it buffers what uploadArchive buffers.
      for (const partArgs of [[], ['--part-size', '16MiB', '--concurrent', '3']]) {
        const raw = await measure(mc, ['pipe', ...partArgs, `lifeboat/${bucket}/${mcKey}`], size, {
          ...process.env,
          MC_CONFIG_DIR: env.MC_CONFIG_DIR,
        });
        runs.push([`mc pipe ${partArgs.length > 0 ? '(16 MiB × 3)' : '(default)'}`, `${size} MiB`, raw]);
      }
      for (const Key of [oursKey, mcKey]) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
    }
  } finally {
    client.destroy();
  }
  console.log('what                     size       wall s   MiB/s   cpu s   peak RSS MiB');
  for (const [what, size, run] of runs) {
    const mibs = Number(size.split(' ')[0]);
    console.log(
      `${what.padEnd(24)} ${size.padEnd(10)} ${run.seconds.toFixed(2).padStart(6)} ${(mibs / run.seconds)
        .toFixed(0)
        .padStart(7)} ${run.cpuSeconds.toFixed(2).padStart(7)} ${run.peakRssMiB.toFixed(0).padStart(14)}`,
    );
  }
}

await (values.child ? child() : main());

// The built `lifeboat` CLI run as a user runs it, in a child process that does not block this one:
// a test can keep a proxy or a watch going in-process while the command runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './stack.js';

export const LIFEBOAT_BIN = join(REPO_ROOT, 'dist', 'cmd', 'lifeboat.js');

export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Written to its stdin, which is then closed (closed at once without it). */
  readonly input?: string;
  /** Called once it started, e.g. to signal it at a chosen moment. */
  readonly whileRunning?: (child: ChildProcess) => void;
}

export function runLifeboat(args: readonly string[], opts: CliOptions): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LIFEBOAT_BIN, ...args], { env: opts.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
    opts.whileRunning?.(child);
  });
}

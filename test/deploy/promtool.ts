// promtool for the tests of deploy/monitoring: the one hack/promtool.sh unpacked from Debian's
// prometheus package, or LIFEBOAT_PROMTOOL. Absent, the tests fail saying how to get it.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';

export function promtoolPath(): string {
  const given = process.env['LIFEBOAT_PROMTOOL'];
  if (given) return given;
  const found = spawnSync('bash', [join(PACKAGE_ROOT, 'hack', 'promtool.sh'), 'path'], { encoding: 'utf8' });
  if (found.status !== 0) {
    throw new Error(
      `promtool is not installed (${found.stderr.trim()}); the alert rules are checked with it: ` +
        'run hack/promtool.sh install (or set LIFEBOAT_PROMTOOL to a promtool binary)',
    );
  }
  return found.stdout.trim();
}

export interface ToolRun {
  readonly status: number | null;
  readonly output: string;
}

export function promtool(args: readonly string[], cwd: string): ToolRun {
  const run = spawnSync(promtoolPath(), args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

// The images as built without Docker (hack/image.sh, docs/image.md), run with the real runc: the
// Lifeboat image's Node, CLI and MariaDB tools work as its non-root user on a read-only root
// filesystem, and the MariaDB test-server image initialises an empty volume, creates its account
// from a Secret file and keeps its data across a restart. The builds are cached by the hash of
// their inputs: cold they take minutes, unchanged well under a second.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './support/stack.js';

interface Run {
  code: number | null;
  output: string;
}

/** `hack/image.sh ARGS`, its stdout and stderr together (the checks print to stdout, errors to stderr). */
function imageScript(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(REPO_ROOT, 'hack', 'image.sh'), ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (err) => reject(new Error(`hack/image.sh: cannot run bash: ${err.message}`)));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

async function succeeded(...args: string[]): Promise<string> {
  const run = await imageScript(...args);
  assert.equal(run.code, 0, `hack/image.sh ${args.join(' ')} failed:\n${run.output}`);
  return run.output;
}

const packageVersion = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;

describe('images built without Docker, run with runc', function () {
  // A cold build debootstraps a Debian base (several minutes on a shared machine).
  this.timeout(20 * 60_000);

  it('builds the Lifeboat image as an OCI archive named lifeboat:<package version>, reused when unchanged', async () => {
    const archive = (await succeeded('build', 'lifeboat')).trim().split('\n').pop() ?? '';
    assert.match(archive, new RegExp(`/lifeboat-${packageVersion.replaceAll('.', '\\.')}\\.oci\\.tar$`));
    assert.ok(existsSync(archive), `${archive} does not exist`);
    assert.equal((await succeeded('path', 'lifeboat')).trim(), archive);
    const again = await succeeded('build', 'lifeboat');
    assert.match(again, /lifeboat image is up to date/);
  });

  it('runs Node 24, lifeboat and the MariaDB tools as UID 65532 on a read-only root filesystem', async () => {
    const out = await succeeded('verify', 'lifeboat');
    assert.match(out, /^node v24\.\d+\.\d+$/m);
    assert.match(out, new RegExp(`^lifeboat ${packageVersion.replaceAll('.', '\\.')} at /usr/local/bin/lifeboat`, 'm'));
    assert.match(out, /^mariadb-dump .*Distrib 10\.11\.\d+-MariaDB/m);
    assert.match(out, /^mariabackup based on MariaDB server 10\.11\.\d+-MariaDB/m);
    assert.match(out, /^user 65532:65532 \(lifeboat\)$/m);
    assert.match(out, /^root filesystem read-only/m);
    assert.match(out, /^no compilers or build tools; no apt lists$/m);
    assert.match(out, new RegExp(`^entrypoint: /usr/bin/tini -- lifeboat --version -> ${packageVersion}$`, 'm'));
  });

  it('runs the MariaDB test server as mysql (999): an empty volume initialised, the account from a Secret file, data kept across a restart', async () => {
    await succeeded('build', 'mariadb');
    const out = await succeeded('verify', 'mariadb');
    assert.match(out, /^logged in over TCP as lifeboat@% to 10\.11\.\d+-MariaDB.*log_bin=ON.*databases: app$/m);
    assert.match(out, /^server runs as uid:user 999:mysql$/m);
    assert.match(out, /^root filesystem read-only/m);
    assert.match(out, /^restarted on the same datadir: not initialised again, app\.kept still holds 42$/m);
  });
});

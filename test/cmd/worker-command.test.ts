// The backup worker stays light: what `lifeboat worker backup` loads, in a fresh Node process, does
// not include @kubernetes/client-node (~75 MiB), neither imported nor loaded lazily by a client.
// And what a stopped worker records as the reason.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stoppedFailure } from '../../cmd/worker-command.js';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';
import { ApplyFailedError, DumpFailedError } from '../../runner/work-failures.js';

const dist = (path: string): string => pathToFileURL(join(PACKAGE_ROOT, 'dist', path)).href;

// Every module the worker command imports, then its Kubernetes client made from a kubeconfig.
const PROBE = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
  export async function resolve(specifier, context, next) {
    const resolved = await next(specifier, context);
    if (resolved.url.includes('/@kubernetes/client-node/')) console.log('imported ' + resolved.url);
    return resolved;
  }\`));
for (const path of ${JSON.stringify(['lib/kube-rest.js', 'lib/logger.js', 'runner/backups/backup-worker.js', 'runner/restores/restore-worker.js'].map(dist))}) {
  await import(path);
}
const { restClientFromEnvironment } = await import(${JSON.stringify(dist('lib/kube-rest.js'))});
const { clientNodeIfLoaded } = await import(${JSON.stringify(dist('lib/client-node.js'))});
restClientFromEnvironment({}, (why) => console.log('full client: ' + why));
if (clientNodeIfLoaded()) console.log('loaded by a client');
console.log('done');
`;

describe('worker command (a fresh Node process)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-worker-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads no @kubernetes/client-node', () => {
    const kubeconfig = join(dir, 'config');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], {
      encoding: 'utf8',
      env: { ...process.env, KUBECONFIG: kubeconfig },
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'done');
  });
});

describe('a stopped worker', () => {
  it('a restore or bootstrap stop claims nothing about the target (the apply adds that once it began)', () => {
    for (const kind of ['restore', 'bootstrap'] as const) {
      const err = stoppedFailure(kind, 'was stopped by SIGTERM before it finished');
      assert.ok(err instanceof ApplyFailedError);
      assert.equal(err.message, `the ${kind} worker was stopped by SIGTERM before it finished`);
    }
    const backup = stoppedFailure('backup', 'was stopped by SIGTERM before it finished');
    assert.ok(backup instanceof DumpFailedError);
    assert.match(backup.message, /apply a new Backup to try again$/);
  });
});

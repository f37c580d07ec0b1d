// `lifeboat restore-datadir` as a user runs it, without an object store: usage mistakes exit 2,
// a DIR that already holds a data directory exits 0 without reaching the store, a non-empty
// DIR exits 1 naming the reason, and nothing is written in either case.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';

const BIN = join(PACKAGE_ROOT, 'dist', 'cmd', 'lifeboat.js');
// Nothing listens on port 9 of 127.0.0.1: a test that reached the store would fail, not hang.
const STORE = ['--bucket', 'b', '--cluster', 'shop', '--endpoint', 'http://127.0.0.1:9', '--insecure'];

function restoreDatadir(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'restore-datadir', ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      LIFEBOAT_LOG_LEVEL: 'silent',
      LIFEBOAT_S3_ACCESS_KEY_ID: 'k',
      LIFEBOAT_S3_SECRET_ACCESS_KEY: 's',
    },
    timeout: 15_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('lifeboat restore-datadir (no object store)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-restore-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('usage mistakes exit 2 with a message and no stack trace', () => {
    const cases: [string[], RegExp][] = [
      [[...STORE], /--to/],
      [['--to', join(dir, 'd'), '--backup-id', 'yesterday', ...STORE], /backup ID/],
      [['--to', join(dir, 'd')], /--bucket and --cluster/],
      [['--to', join(dir, 'd'), '--chown', 'no-such-user-here', ...STORE], /no user no-such-user-here/],
    ];
    for (const [args, said] of cases) {
      const r = restoreDatadir(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, said);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.deepEqual(readdirSync(dir), [], 'nothing was created');
  });

  it('a DIR that already holds a data directory: exit 0, nothing restored, the store not reached', () => {
    const to = join(dir, 'data');
    mkdirSync(join(to, 'mysql'), { recursive: true });
    const r = restoreDatadir(['--to', to, ...STORE]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /already holds a data directory \(mysql present\); nothing restored/);
    assert.deepEqual(readdirSync(to), ['mysql']);
  });

  it('a non-empty DIR without --overwrite: exit 1 with the reason, DIR untouched', () => {
    const to = join(dir, 'data');
    mkdirSync(to);
    writeFileSync(join(to, 'notes.txt'), 'mine');
    const r = restoreDatadir(['--to', to, ...STORE]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /restore-datadir failed \(TargetNotEmpty\): .*not empty.*--overwrite/);
    assert.deepEqual(readdirSync(to), ['notes.txt']);
  });
});

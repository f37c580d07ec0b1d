// `lifeboat restore-datadir` as a user runs it, without an object store: usage mistakes exit 2,
// a DIR that already holds a data directory exits 0 without reaching the store, a non-empty
// DIR exits 1 naming the reason, and nothing is written in either case.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopOnSignals } from '../../cmd/restore-datadir-command.js';
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

describe('restore-datadir stopped by signals (signals emitted in-process)', () => {
  it('the first SIGINT or SIGTERM stops the restore; a second ends it at once (130), saying what it may have left', () => {
    const listeners = (): number => process.listenerCount('SIGINT') + process.listenerCount('SIGTERM');
    const before = listeners();
    const stop = new AbortController();
    const said: string[] = [];
    const exits: number[] = [];
    const warned: string[] = [];
    const unsubscribe = stopOnSignals({
      stop,
      to: '/data/db',
      stagingPrefix: '.lifeboat-restore-',
      warn: (signal) => warned.push(signal),
      stopped: (signal) => new Error(`stopped by ${signal}`),
      exit: (code) => void exits.push(code),
      write: (line) => void said.push(line),
    });
    try {
      process.emit('SIGTERM', 'SIGTERM');
      assert.equal(stop.signal.aborted, true);
      assert.equal((stop.signal.reason as Error).message, 'stopped by SIGTERM');
      assert.deepEqual([warned, exits, said], [['SIGTERM'], [], []]);
      process.emit('SIGINT', 'SIGINT');
      assert.deepEqual(exits, [130]);
      assert.deepEqual(said, [
        'lifeboat: restore-datadir stopped at once by a second SIGINT; nothing was written to /data/db, but a staging directory (.lifeboat-restore-…) may be left beside or inside it: the next restore-datadir of it removes it\n',
      ]);
    } finally {
      unsubscribe();
    }
    assert.equal(listeners(), before, 'handlers removed');
  });
});

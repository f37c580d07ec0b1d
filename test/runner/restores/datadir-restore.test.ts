// restore-datadir's engine with the real mbstream on small xbstreams made here with `mbstream -c`,
// a fake archive stream (it ends, or errors at its end as a failed SHA-256 check does) and a fake
// mariabackup (a shell script: prepare succeeds and leaves a mark, or fails with a message).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import type { BackupMetadataType } from '../../../crds/backup-metadata-types.js';
import { createLogger } from '../../../lib/logger.js';
import {
  restoreDatadir,
  summaryLine,
  type DatadirRestoreOptions,
  type ResolvedBackup,
} from '../../../runner/restores/datadir-restore.js';
import { fsyncPath } from '../../../runner/restores/datadir-sync.js';
import {
  ChecksumMismatchError,
  DownloadFailedError,
  PrepareFailedError,
  TargetNotEmptyError,
  UnsupportedMethodError,
} from '../../../runner/work-failures.js';

const METADATA: BackupMetadataType = {
  formatVersion: 1,
  cluster: 'shop',
  namespace: 'default',
  backupName: 'shop-1',
  backupId: '20261130T181500Z',
  engine: 'mariadb',
  serverVersion: '10.11.9-MariaDB-log',
  method: 'mariabackup',
  sourceInstance: 'shop-1',
  objectKey: 'p/shop/shop-1/20261130T181500Z/backup.xbstream',
  size: 4242,
  sha256: 'b'.repeat(64),
  compression: 'none',
  startedAt: '2026-11-30T18:15:00Z',
  stoppedAt: '2026-11-30T18:17:42Z',
};

/** What the fake archive stream does after its bytes: end (verified) or fail like archive-download. */
type Ending = 'verified' | 'mismatch' | 'download-error';

/** An archive stream handing out `bytes` in small chunks, then ending as told. */
function fakeArchive(bytes: Buffer, ending: Ending, opened: { count: number }): (signal: AbortSignal) => Readable {
  return (signal) => {
    opened.count += 1;
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let at = 0; at < bytes.length; at += 64) {
        if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
        yield bytes.subarray(at, at + 64);
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (ending === 'mismatch') throw new ChecksumMismatchError('SHA-256 of the archive is c…, metadata says b…');
      if (ending === 'download-error') throw new Error('socket hang up');
    }
    return Readable.from(chunks());
  };
}

describe('restore-datadir engine (real mbstream, fake mariabackup)', function () {
  this.timeout(20_000);
  let root: string;
  let archive: Buffer;
  let fakeMariabackup: string;
  let failingMariabackup: string;
  /** Prepares as fakeMariabackup does, after half a second: the early flush has files to flush meanwhile. */
  let slowMariabackup: string;
  const opened = { count: 0 };
  const resolved = { count: 0 };
  const logger = createLogger('test');
  logger.level = 'silent';

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'lifeboat-datadir-'));
    const src = join(root, 'backup-files');
    await mkdir(join(src, 'mysql'), { recursive: true });
    await mkdir(join(src, 'shop'));
    const files: Record<string, string> = {
      ibdata1: 'innodb system tablespace',
      'mysql/user.MAD': 'accounts',
      'shop/orders.ibd': 'x'.repeat(5000),
      'backup-my.cnf': '[mysqld]\ninnodb_page_size=16384\n',
      xtrabackup_checkpoints: 'backup_type = full-backuped\n',
      xtrabackup_galera_info: '6f0a1b2c-0000-11ef-8000-000000000001:42\n',
      xtrabackup_binlog_info: 'mariadb-bin.000003\t1234\t0-1-42\n',
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(src, name), text);
    archive = execFileSync('mbstream', ['-c', ...Object.keys(files)], { cwd: src, maxBuffer: 1 << 20 });
    fakeMariabackup = join(root, 'fake-mariabackup');
    await writeFile(
      fakeMariabackup,
      '#!/bin/sh\nfor a; do case "$a" in --target-dir=*) t="${a#*=}";; esac; done\necho prepared > "$t/ib_logfile0"\n',
    );
    failingMariabackup = join(root, 'fake-mariabackup-failing');
    await writeFile(failingMariabackup, '#!/bin/sh\necho "[ERROR] InnoDB: Unsupported redo log format" >&2\nexit 1\n');
    slowMariabackup = join(root, 'fake-mariabackup-slow');
    await writeFile(
      slowMariabackup,
      '#!/bin/sh\nfor a; do case "$a" in --target-dir=*) t="${a#*=}";; esac; done\nsleep 0.5\necho prepared > "$t/ib_logfile0"\n',
    );
    await Promise.all([fakeMariabackup, failingMariabackup, slowMariabackup].map((f) => chmod(f, 0o755)));
  });
  after(() => rm(root, { recursive: true, force: true }));

  let work: string;
  beforeEach(async () => {
    work = await mkdtemp(join(root, 'case-'));
    opened.count = 0;
    resolved.count = 0;
  });

  function options(to: string, over: Partial<DatadirRestoreOptions & ResolvedBackup> = {}): DatadirRestoreOptions {
    const backup: ResolvedBackup = {
      metadata: over.metadata ?? METADATA,
      source: 's3://lifeboat/p/shop/shop-1/20261130T181500Z/backup.xbstream',
      openArchive: over.openArchive ?? fakeArchive(archive, 'verified', opened),
      ...(over.verifyArchive ? { verifyArchive: over.verifyArchive } : {}),
      ...(over.appliedByRunner === undefined ? {} : { appliedByRunner: over.appliedByRunner }),
    };
    return {
      to,
      backup: () => {
        resolved.count += 1;
        return Promise.resolve(backup);
      },
      logger,
      tools: { extractor: 'mbstream', backupTool: fakeMariabackup },
      ...(over.overwrite === undefined ? {} : { overwrite: over.overwrite }),
      ...(over.tools ? { tools: over.tools } : {}),
      ...(over.signal ? { signal: over.signal } : {}),
      ...(over.sync === undefined ? {} : { sync: over.sync }),
      ...(over.syncOne ? { syncOne: over.syncOne } : {}),
    };
  }

  it('flushes every file and directory to disk before DIR exists, then the parent whose entry the move made (recording fsync)', async () => {
    const to = join(work, 'data');
    const synced: { path: string; dirExisted: boolean }[] = [];
    const syncOne = async (path: string): Promise<void> => {
      synced.push({ path, dirExisted: existsSync(to) });
      await fsyncPath(path);
    };
    await restoreDatadir(options(to, { syncOne }));
    const beforeMove = synced
      .filter((s) => !s.dirExisted)
      .map((s) => relative(work, s.path).split(sep).slice(1).join('/'));
    // The early flush, while prepare ran, also saw xtrabackup_checkpoints, removed before the move.
    const flushed = new Set(beforeMove);
    const tree = [
      '',
      'ib_logfile0',
      'ibdata1',
      'mysql',
      'mysql/user.MAD',
      'shop',
      'shop/orders.ibd',
      'xtrabackup_binlog_info',
      'xtrabackup_galera_info',
    ];
    assert.deepEqual(
      tree.filter((path) => !flushed.has(path)),
      [],
      'every file and directory of the staging tree, itself included',
    );
    assert.ok(beforeMove.indexOf('shop') > beforeMove.indexOf('shop/orders.ibd'), 'a directory after its entries');
    assert.deepEqual(
      synced.filter((s) => s.dirExisted).map((s) => s.path),
      [work],
      "then DIR's parent, after the rename",
    );
  });

  it('begins flushing the extracted files while the archive still streams in (recording fsync)', async () => {
    // More than the 1 MiB batch written into mbstream at a time, handed out over about 0.6 s.
    const src = join(work, 'big-backup');
    await mkdir(src);
    await writeFile(join(src, 'ibdata1'), 'innodb system tablespace');
    await writeFile(join(src, 'orders.ibd'), Buffer.alloc(4 << 20, 7));
    const big = execFileSync('mbstream', ['-c', 'ibdata1', 'orders.ibd'], { cwd: src, maxBuffer: 8 << 20 });
    const streamed = { ended: false };
    async function* slowly(): AsyncGenerator<Buffer> {
      for (let at = 0; at < big.length; at += 64 * 1024) {
        yield big.subarray(at, at + 64 * 1024);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      streamed.ended = true;
    }
    const midStream = new Set<string>();
    const syncOne = async (path: string): Promise<void> => {
      if (!streamed.ended) midStream.add(path.split(sep).slice(-1)[0] ?? path);
      await fsyncPath(path);
    };
    const to = join(work, 'data');
    await restoreDatadir(options(to, { syncOne, openArchive: () => Readable.from(slowly()) }));
    assert.ok(midStream.has('ibdata1'), `flushed before the archive ended: ${[...midStream].join(', ') || 'none'}`);
    assert.ok((await readdir(to)).includes('orders.ibd'), 'restored into DIR');
  });

  it('flushes the extracted files while prepare runs, then again after it (recording fsync)', async () => {
    const to = join(work, 'data');
    const synced: { path: string; prepared: boolean }[] = [];
    const syncOne = async (path: string): Promise<void> => {
      const log = join(path.split(sep).slice(0, -1).join(sep), 'ib_logfile0');
      const prepared = existsSync(log) && (await readFile(log, 'utf8')) === 'prepared\n';
      synced.push({ path, prepared });
      await fsyncPath(path);
    };
    await restoreDatadir(options(to, { syncOne, tools: { extractor: 'mbstream', backupTool: slowMariabackup } }));
    const ibd = synced.filter((s) => s.path.endsWith(`${sep}ibdata1`)).map((s) => s.prepared);
    assert.equal(ibd[0], false, 'ibdata1 flushed before prepare ended');
    assert.equal(ibd[ibd.length - 1], true, 'and once more after it');
    assert.ok((await readdir(to)).includes('ibdata1'), 'restored into DIR');
  });

  it('an early flush that fails (a file prepare removed) does not fail the restore; the strict flush after prepare decides (recording fsync)', async () => {
    const to = join(work, 'data');
    const tries = new Map<string, number>();
    const syncOne = async (path: string): Promise<void> => {
      const n = (tries.get(path) ?? 0) + 1;
      tries.set(path, n);
      if (n === 1 && path.endsWith(`${sep}ibdata1`))
        throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      await fsyncPath(path);
    };
    const result = await restoreDatadir(
      options(to, { syncOne, tools: { extractor: 'mbstream', backupTool: slowMariabackup } }),
    );
    assert.equal(result.outcome, 'restored');
    const ibdata = [...tries].find(([p]) => p.endsWith(`${sep}ibdata1`));
    assert.ok(ibdata && ibdata[1] >= 2, 'the failed early flush, then at least the strict one');
  });

  it('a prepare that fails cuts the early flush short: the error does not wait for files about to be deleted (slow recording fsync)', async () => {
    const src = join(work, 'many-files');
    await mkdir(src);
    const names = Array.from({ length: 200 }, (_, i) => `f${i}.ibd`);
    for (const name of names) await writeFile(join(src, name), name);
    const many = execFileSync('mbstream', ['-c', ...names], { cwd: src, maxBuffer: 1 << 20 });
    let calls = 0;
    // 100 ms a file, 16 at a time: the whole early flush would take 1.25 s.
    const syncOne = async (): Promise<void> => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
    };
    await assert.rejects(
      restoreDatadir({
        ...options(join(work, 'data'), { syncOne, tools: { extractor: 'mbstream', backupTool: failingMariabackup } }),
        backup: () =>
          Promise.resolve({ metadata: METADATA, source: 's3://x', openArchive: fakeArchive(many, 'verified', opened) }),
      }),
      (err: Error) => err.name === 'PrepareFailedError',
    );
    assert.ok(calls < names.length, `the early flush stopped after ${calls} of ${names.length} files`);
    assert.deepEqual(
      (await readdir(work)).filter((n) => n.startsWith('.lifeboat')),
      [],
      'no staging left',
    );
  });

  it('a flush that throws instead of rejecting does not break the early passes (recording fsync)', async () => {
    const to = join(work, 'data');
    const seen = new Set<string>();
    const syncOne = (path: string): Promise<void> => {
      if (!seen.has(path) && path.includes('.lifeboat-restore')) {
        seen.add(path);
        if (path.endsWith(`${sep}ibdata1`)) throw new Error('thrown, not rejected');
      }
      return fsyncPath(path);
    };
    const result = await restoreDatadir(
      options(to, { syncOne, tools: { extractor: 'mbstream', backupTool: slowMariabackup } }),
    );
    assert.equal(result.outcome, 'restored');
    assert.ok(
      [...seen].some((p) => p.endsWith(`${sep}ibdata1`)),
      'an early pass reached ibdata1',
    );
  });

  it('filling an empty DIR in place: DIR itself is flushed last, after its new entries (recording fsync)', async () => {
    const to = join(work, 'volume');
    await mkdir(to);
    const synced: string[] = [];
    await restoreDatadir(options(to, { syncOne: (path) => Promise.resolve(void synced.push(path)) }));
    assert.equal(synced[synced.length - 1], to);
    assert.ok(synced.length > 9, 'the staging tree before it');
  });

  it('a flush that fails: PrepareFailed saying so, DIR not created, staging deleted (failing fsync)', async () => {
    const to = join(work, 'data');
    const syncOne = (path: string): Promise<void> =>
      path.endsWith('orders.ibd')
        ? Promise.reject(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }))
        : Promise.resolve();
    await assert.rejects(restoreDatadir(options(to, { syncOne })), (err: Error) => {
      assert.ok(err instanceof PrepareFailedError);
      assert.match(err.message, /writing the prepared data directory to disk failed: EIO.*nothing was written to/);
      return true;
    });
    assert.deepEqual(await readdir(work), [], 'no DIR, no staging');
  });

  it('with sync: false (--no-sync) nothing is flushed', async () => {
    const to = join(work, 'data');
    let calls = 0;
    await restoreDatadir(options(to, { sync: false, syncOne: () => Promise.resolve(void (calls += 1)) }));
    assert.equal(calls, 0);
    assert.ok(existsSync(join(to, 'ibdata1')));
  });

  it('an absent DIR: extracted, prepared, leftovers removed, Galera and binlog info kept, no staging left', async () => {
    const to = join(work, 'data');
    const result = await restoreDatadir(options(to));
    assert.equal(result.outcome, 'restored');
    assert.deepEqual((await readdir(to)).sort(), [
      'ib_logfile0',
      'ibdata1',
      'mysql',
      'shop',
      'xtrabackup_binlog_info',
      'xtrabackup_galera_info',
    ]);
    assert.equal(await readFile(join(to, 'shop', 'orders.ibd'), 'utf8'), 'x'.repeat(5000));
    assert.deepEqual(await readdir(work), ['data'], 'the staging directory became DIR');
    assert.match(
      summaryLine(result),
      /restored backup 20261130T181500Z from s3:\/\/lifeboat\/.* 4242 bytes, sha256 b{64} verified/,
    );
  });

  it('a DIR that already holds a data directory: nothing is read or changed', async () => {
    const to = join(work, 'data');
    await mkdir(join(to, 'mysql'), { recursive: true });
    await writeFile(join(to, 'ibdata1'), 'live data');
    const result = await restoreDatadir(options(to, { overwrite: true }));
    assert.deepEqual(result, { outcome: 'already-present', to, marker: 'ibdata1' });
    assert.equal(resolved.count, 0, 'the object store was not asked for the backup');
    assert.equal(await readFile(join(to, 'ibdata1'), 'utf8'), 'live data');
    assert.match(summaryLine(result), /already holds a data directory.*nothing restored/);
  });

  it('a DIR with other files: refused without --overwrite, untouched, archive not opened', async () => {
    const to = join(work, 'data');
    await mkdir(to);
    await writeFile(join(to, 'notes.txt'), 'mine');
    await assert.rejects(restoreDatadir(options(to)), TargetNotEmptyError);
    assert.deepEqual(await readdir(to), ['notes.txt']);
    assert.equal(resolved.count, 0);
  });

  it('with --overwrite: the old contents replaced, lost+found kept, nothing of ours left', async () => {
    const to = join(work, 'data');
    await mkdir(join(to, 'lost+found'), { recursive: true });
    await writeFile(join(to, 'notes.txt'), 'mine');
    await restoreDatadir(options(to, { overwrite: true }));
    const names = await readdir(to);
    assert.ok(!names.includes('notes.txt'));
    assert.ok(names.includes('lost+found') && names.includes('ibdata1'));
    assert.deepEqual(
      names.filter((n) => n.startsWith('.lifeboat-')),
      [],
    );
  });

  it('an empty DIR (a fresh volume) is filled in place, its staging inside it gone', async () => {
    const to = join(work, 'data');
    await mkdir(join(to, 'lost+found'), { recursive: true });
    await mkdir(join(to, '.lifeboat-restore-dead'), { recursive: true });
    await restoreDatadir(options(to));
    const names = await readdir(to);
    assert.ok(names.includes('ibdata1'));
    assert.deepEqual(
      names.filter((n) => n.startsWith('.lifeboat-')),
      [],
      'a killed run’s staging is removed too',
    );
  });

  /** A run stopped for good while it flushes, as by kill -9: its flush never returns (hanging fsync). */
  async function killedDuringSync(to: string): Promise<void> {
    let flushing!: () => void;
    const reached = new Promise<void>((resolve) => (flushing = resolve));
    const hang = (): Promise<void> => {
      flushing();
      return new Promise<void>(() => undefined);
    };
    void restoreDatadir(options(to, { syncOne: hang }));
    await reached;
    // The hang is in the early flush, beside prepare: only once prepare has left its mark is the
    // run as still as a killed one (it then waits on that flush for ever). A rerun cleaning up
    // while the fake prepare still wrote raced it (ENOTEMPTY on a loaded machine).
    await preparedUnder(work);
  }

  async function preparedUnder(dir: string): Promise<void> {
    for (;;) {
      const marks = (await readdir(dir, { recursive: true })).filter((p) => p.endsWith('ib_logfile0'));
      for (const mark of marks) {
        if ((await readFile(join(dir, mark), 'utf8').catch(() => '')) === 'prepared\n') return;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('killed during the flush, an absent DIR: not created; the rerun restores and leaves no staging beside DIR (hanging fsync)', async () => {
    const to = join(work, 'data');
    await killedDuringSync(to);
    assert.ok(!existsSync(to), 'no half tree in DIR');
    // A restore into the sibling data-2 under way: its staging is not this DIR's.
    await mkdir(join(work, '.lifeboat-restore-data-2-Ab3dEf'));
    const result = await restoreDatadir(options(to));
    assert.equal(result.outcome, 'restored');
    assert.ok((await readdir(to)).includes('ibdata1'));
    assert.deepEqual(
      (await readdir(work)).sort(),
      ['.lifeboat-restore-data-2-Ab3dEf', 'data'],
      'the killed run’s staging beside DIR is removed, the sibling’s kept',
    );
  });

  it('killed during the flush, an empty DIR: still empty of data; the rerun restores and removes the staging (hanging fsync)', async () => {
    const to = join(work, 'data');
    await mkdir(to);
    await killedDuringSync(to);
    assert.deepEqual(
      (await readdir(to)).filter((n) => !n.startsWith('.lifeboat-restore-')),
      [],
      'no data in DIR until the flush is done',
    );
    await restoreDatadir(options(to));
    const names = await readdir(to);
    assert.ok(names.includes('ibdata1'));
    assert.deepEqual(
      names.filter((n) => n.startsWith('.lifeboat-')),
      [],
    );
  });

  async function assertUntouched(to: string): Promise<void> {
    assert.deepEqual(await readdir(work), [], `${to} was not created and no staging directory is left`);
  }

  it('a SHA-256 mismatch at the end: ChecksumMismatch, DIR not created, staging deleted', async () => {
    const to = join(work, 'data');
    await assert.rejects(
      restoreDatadir(options(to, { openArchive: fakeArchive(archive, 'mismatch', opened) })),
      (err: unknown) => err instanceof ChecksumMismatchError && /nothing was written to .*data/.test(err.message),
    );
    await assertUntouched(to);
  });

  it('a damaged archive that kills mbstream early is still judged by its checksum', async () => {
    const damaged = Buffer.from(archive);
    damaged[damaged.length - 20] = (damaged[damaged.length - 20] ?? 0) ^ 0xff;
    damaged.write('XXXXXXXX', 0);
    const to = join(work, 'data');
    await assert.rejects(
      restoreDatadir(options(to, { openArchive: fakeArchive(damaged, 'mismatch', opened) })),
      ChecksumMismatchError,
    );
    await assertUntouched(to);
  });

  it('a read that broke off before its verdict is judged by a second read: ChecksumMismatch when damaged', async () => {
    const to = join(work, 'data');
    const verified: string[] = [];
    const verifyArchive = (): Promise<void> => {
      verified.push('again');
      return Promise.reject(new ChecksumMismatchError('SHA-256 differs'));
    };
    await assert.rejects(
      restoreDatadir(options(to, { openArchive: fakeArchive(archive, 'download-error', opened), verifyArchive })),
      (err: unknown) => err instanceof ChecksumMismatchError && /nothing was written/.test(err.message),
    );
    assert.deepEqual(verified, ['again']);
    await assertUntouched(to);
  });

  it('… and the original failure when the second read finds the archive sound', async () => {
    const to = join(work, 'data');
    await assert.rejects(
      restoreDatadir(
        options(to, {
          openArchive: fakeArchive(archive, 'download-error', opened),
          verifyArchive: () => Promise.resolve(),
        }),
      ),
      (err: unknown) => err instanceof DownloadFailedError && /socket hang up/.test(err.message),
    );
    await assertUntouched(to);
  });

  it('mbstream failing on an archive that verified: PrepareFailed, staging deleted', async () => {
    const to = join(work, 'data');
    const notXbstream = Buffer.from('this is not an xbstream archive at all');
    await assert.rejects(
      restoreDatadir(options(to, { openArchive: fakeArchive(notXbstream, 'verified', opened) })),
      (err: unknown) => err instanceof PrepareFailedError && /mbstream exited with code/.test(err.message),
    );
    await assertUntouched(to);
  });

  it('mbstream runs with 4 threads, not a number from the core count (recording wrapper around the real mbstream)', async () => {
    // Each thread holds about 10 MiB: an init container's memory must not depend on the node's cores.
    const argsFile = join(root, 'mbstream-args');
    const recording = join(root, 'mbstream-recording');
    await writeFile(recording, `#!/bin/sh\nprintf '%s\\n' "$@" > '${argsFile}'\nexec mbstream "$@"\n`);
    await chmod(recording, 0o755);
    const to = join(work, 'data');
    await restoreDatadir(options(to, { tools: { extractor: recording, backupTool: fakeMariabackup } }));
    const args = (await readFile(argsFile, 'utf8')).trim().split('\n');
    assert.deepEqual(args.slice(0, 3), ['-x', '--parallel=4', '-C']);
    assert.equal(args.length, 4, 'and the staging directory');
    assert.equal(await readFile(join(to, 'shop', 'orders.ibd'), 'utf8'), 'x'.repeat(5000), 'extracted through it');
  });

  it('mbstream --parallel on a full disk: the message keeps its first error, not only the out-of-order lines after it', async () => {
    // What mbstream -x --parallel=8 printed when its disk filled (a tmpfs of 200 MiB): the cause
    // once, then a line for each chunk its other threads held, more than the 8 lines of a tail.
    const fullDisk = join(root, 'mbstream-full-disk');
    const outOfOrder = Array.from(
      { length: 9 },
      (_, i) =>
        `echo "[00] 2026-12-03 23:30:47 mbstream: out-of-order chunk: real offset = 0x${(100 + i * 10).toString(16)}00000, expected offset = 0x5a00000" >&2`,
    );
    await writeFile(
      fullDisk,
      [
        '#!/bin/sh',
        'cat > /dev/null',
        `printf '\\007mbstream: Error writing file %s (Errcode: 28 "No space left on device")\\n' "'./shop/orders.ibd'" >&2`,
        'echo "[00] 2026-12-03 23:30:47 mbstream: my_write() failed." >&2',
        ...outOfOrder,
        'exit 1',
        '',
      ].join('\n'),
    );
    await chmod(fullDisk, 0o755);
    const to = join(work, 'data');
    await assert.rejects(
      restoreDatadir(options(to, { tools: { extractor: fullDisk, backupTool: fakeMariabackup } })),
      (err: unknown) =>
        err instanceof PrepareFailedError &&
        /exited with code 1; first error: .*No space left on device.*; last output: .*out-of-order chunk/.test(
          err.message,
        ) &&
        /is the disk under .* full\?/.test(err.message) &&
        // eslint-disable-next-line no-control-regex -- mbstream's bell (\a) must not reach the message
        !/[\u0000-\u001f]/.test(err.message),
    );
    await assertUntouched(to);
  });

  it('a download error: DownloadFailed, staging deleted', async () => {
    const to = join(work, 'data');
    await assert.rejects(
      restoreDatadir(options(to, { openArchive: fakeArchive(archive, 'download-error', opened) })),
      (err: unknown) => err instanceof DownloadFailedError && /socket hang up.*nothing was written/.test(err.message),
    );
    await assertUntouched(to);
  });

  it('mariabackup --prepare failing: PrepareFailed with its last words; an empty DIR stays empty', async () => {
    const to = join(work, 'data');
    await mkdir(to);
    await assert.rejects(
      restoreDatadir(options(to, { tools: { extractor: 'mbstream', backupTool: failingMariabackup } })),
      (err: unknown) =>
        err instanceof PrepareFailedError &&
        /exited with code 1; last output: .*Unsupported redo log format/.test(err.message),
    );
    assert.deepEqual(await readdir(to), []);
  });

  it('a stop (SIGTERM) during the download: the abort’s reason, staging deleted', async () => {
    const to = join(work, 'data');
    const stop = new AbortController();
    const slow = (signal: AbortSignal): Readable => {
      const stream = fakeArchive(archive, 'verified', opened)(signal);
      setImmediate(() => stop.abort(new DownloadFailedError('stopped by SIGTERM')));
      return stream;
    };
    await assert.rejects(restoreDatadir(options(to, { openArchive: slow, signal: stop.signal })), /stopped by SIGTERM/);
    await assertUntouched(to);
  });

  it('a logical backup: UnsupportedMethod pointing at a Restore; nothing read', async () => {
    const to = join(work, 'data');
    await assert.rejects(
      restoreDatadir(options(to, { metadata: { ...METADATA, method: 'mariadb-dump' } })),
      (err: unknown) => err instanceof UnsupportedMethodError && /logical backup.*Restore/.test(err.message),
    );
    assert.equal(opened.count, 0);
    await assertUntouched(to);
  });

  it('a logical backup the runner applies (--from-cluster): DIR left as it was, nothing read, a line saying who applies it', async () => {
    const to = join(work, 'data');
    const appliedBy = "the runner's bootstrap of Cluster shop/db";
    const result = await restoreDatadir(
      options(to, { metadata: { ...METADATA, method: 'mariadb-dump' }, appliedByRunner: appliedBy }),
    );
    assert.deepEqual(result, {
      outcome: 'logical',
      to,
      backupId: METADATA.backupId,
      source: 's3://lifeboat/p/shop/shop-1/20261130T181500Z/backup.xbstream',
      appliedBy,
    });
    assert.equal(opened.count, 0);
    await assertUntouched(to);
    assert.equal(
      summaryLine(result),
      `backup 20261130T181500Z from s3://lifeboat/p/shop/shop-1/20261130T181500Z/backup.xbstream is a logical backup: nothing restored into ${to}; the runner's bootstrap of Cluster shop/db applies it once the server runs on an empty data directory`,
    );
  });

  it('a physical backup the runner would apply if logical (--from-cluster): restored as usual', async () => {
    const to = join(work, 'data');
    const result = await restoreDatadir(options(to, { appliedByRunner: "the runner's bootstrap of Cluster shop/db" }));
    assert.equal(result.outcome, 'restored');
    assert.ok(existsSync(join(to, 'ibdata1')));
  });
});

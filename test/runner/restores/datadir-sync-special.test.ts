// syncTree with the real fsync over what a data directory can hold besides plain files: a FIFO or
// a socket must be skipped (opening a FIFO for reading would wait for a writer forever), read-only
// and write-only files and a read-only directory are flushed, and a wide tree completes. Also how
// the early passes end: a FIFO in a listed file's place, a stop while the tree is listed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import fsPromises, { chmod, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsyncPath, syncTree, syncTreeWhileWritten } from '../../../runner/restores/datadir-sync.js';

describe('datadir-sync: special files and a wide tree (real fsync)', () => {
  let root: string;
  let socketServer: Server | undefined;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'lifeboat-sync-special-'));
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => (socketServer ? socketServer.close(() => resolve()) : resolve()));
    socketServer = undefined;
    await chmod(join(root, 'tree', 'ro'), 0o755).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  it('skips a FIFO and a socket, and flushes read-only and write-only files and a read-only directory', async () => {
    const tree = join(root, 'tree');
    await mkdir(join(tree, 'ro'), { recursive: true });
    execFileSync('mkfifo', [join(tree, 'pipe')]);
    socketServer = createServer();
    await new Promise<void>((resolve) => socketServer?.listen(join(tree, 'mysql.sock'), resolve));
    await writeFile(join(tree, 'read-only.ibd'), 'a', { mode: 0o444 });
    await writeFile(join(tree, 'write-only.ibd'), 'b', { mode: 0o200 });
    await writeFile(join(tree, 'ro', 'inside.ibd'), 'c');
    await chmod(join(tree, 'ro'), 0o555);
    const count = await syncTree(tree);
    assert.equal(count, 5, 'three files and two directories; the FIFO and the socket left alone');
  });

  it('flushes 5,000 files in 50 directories', async () => {
    const tree = join(root, 'tree');
    for (let d = 0; d < 50; d++) {
      const dir = join(tree, `db${d}`);
      await mkdir(dir, { recursive: true });
      await Promise.all(Array.from({ length: 100 }, (_, f) => writeFile(join(dir, `t${f}.ibd`), 'x')));
    }
    assert.equal(await syncTree(tree), 5_000 + 50 + 1);
  });

  it('fsyncPath refuses a FIFO at once instead of waiting for a writer (a listed file replaced by one)', async () => {
    const fifo = join(root, 't1.ibd');
    execFileSync('mkfifo', [fifo]);
    try {
      const outcome = await Promise.race([
        fsyncPath(fifo).then(
          () => 'flushed',
          (err: NodeJS.ErrnoException) => `refused ${err.code}`,
        ),
        new Promise((resolve) => setTimeout(() => resolve('still waiting after 5 s'), 5_000)),
      ]);
      assert.equal(outcome, 'refused EINVAL');
    } finally {
      // Were the open blocked, a writer releases it, so the test run can still exit.
      await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).then(
        (h) => h.close(),
        () => undefined,
      );
    }
  });

  it('an early pass stopped while it lists the tree lists no further directory (counting readdir)', async () => {
    const tree = join(root, 'tree');
    for (let d = 0; d < 20; d++) {
      await mkdir(join(tree, `db${d}`), { recursive: true });
      await writeFile(join(tree, `db${d}`, 't.ibd'), 'x');
    }
    const listed: string[] = [];
    const original = fsPromises.readdir;
    const counting = ((path: string, options: unknown) => {
      listed.push(path);
      return (original as (p: string, o: unknown) => Promise<unknown>)(path, options);
    }) as typeof fsPromises.readdir;
    fsPromises.readdir = counting;
    syncBuiltinESMExports();
    try {
      const stop = new AbortController();
      const flushed: string[] = [];
      const loop = syncTreeWhileWritten(tree, stop.signal, (p) => Promise.resolve(void flushed.push(p)), 10);
      stop.abort(); // the root's listing has begun
      await loop;
      assert.deepEqual(listed, [tree], 'only the root, whose listing began before the stop');
      assert.deepEqual(flushed, []);
    } finally {
      fsPromises.readdir = original;
      syncBuiltinESMExports();
    }
  });
});

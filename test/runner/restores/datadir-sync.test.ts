import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsyncPath, syncTree, syncTreeWhileWritten } from '../../../runner/restores/datadir-sync.js';

/** Resolves once `check` holds, polling every 5 ms; fails after 5 s saying what it waited for. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('datadir-sync', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'lifeboat-sync-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('syncs every regular file and directory once, each directory after its entries (recording fsync)', async () => {
    const tree = join(root, 'tree');
    await mkdir(join(tree, 'shop', 'archive'), { recursive: true });
    await writeFile(join(tree, 'ibdata1'), 'a');
    await writeFile(join(tree, 'shop', 'orders.ibd'), 'b');
    await writeFile(join(tree, 'shop', 'archive', 'old.ibd'), 'c');
    const seen: string[] = [];
    const count = await syncTree(tree, (path) => Promise.resolve(void seen.push(path)));
    const rel = seen.map((p) => p.slice(tree.length) || '/');
    assert.equal(count, 6);
    assert.deepEqual([...rel].sort(), [
      '/',
      '/ibdata1',
      '/shop',
      '/shop/archive',
      '/shop/archive/old.ibd',
      '/shop/orders.ibd',
    ]);
    const at = (p: string): number => rel.indexOf(p);
    assert.ok(at('/shop/archive') > at('/shop/archive/old.ibd'));
    assert.ok(at('/shop') > at('/shop/archive') && at('/shop') > at('/shop/orders.ibd'));
    assert.equal(rel[rel.length - 1], '/', 'the root last');
  });

  it('does not follow symbolic links out of the tree (recording fsync)', async () => {
    const tree = join(root, 'tree');
    const elsewhere = join(root, 'elsewhere');
    await mkdir(tree);
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, 'big.ibd'), 'x');
    await symlink(elsewhere, join(tree, 'linked-dir'));
    await symlink(join(elsewhere, 'big.ibd'), join(tree, 'linked-file'));
    const seen: string[] = [];
    await syncTree(tree, (path) => Promise.resolve(void seen.push(path)));
    assert.deepEqual(seen, [tree]);
  });

  it('stops at the first failure with its error', async () => {
    const tree = join(root, 'tree');
    await mkdir(tree);
    await writeFile(join(tree, 'f'), 'x');
    await assert.rejects(
      syncTree(tree, () => Promise.reject(new Error('EIO: i/o error, fsync'))),
      /EIO/,
    );
  });

  it('fsyncPath flushes a real file and a real directory without error', async () => {
    await writeFile(join(root, 'f'), 'x');
    await fsyncPath(join(root, 'f'));
    await fsyncPath(root);
    await assert.rejects(fsyncPath(join(root, 'absent')), { code: 'ENOENT' });
  });

  describe('syncTreeWhileWritten', () => {
    it('flushes files as they appear, and a file again only once it changed (recording fsync)', async () => {
      await writeFile(join(root, 'ibdata1'), 'a');
      await writeFile(join(root, 'untouched'), 'u');
      const seen: string[] = [];
      const stop = new AbortController();
      const count = (name: string): number => seen.filter((p) => p === join(root, name)).length;
      const loop = syncTreeWhileWritten(root, stop.signal, (p) => Promise.resolve(void seen.push(p)), 10);
      await until(() => count('ibdata1') === 1 && count('untouched') === 1, 'the first pass flushed both files');
      await mkdir(join(root, 'shop'));
      await writeFile(join(root, 'shop', 'orders.ibd'), 'b');
      await appendFile(join(root, 'ibdata1'), 'more');
      await until(() => count('shop/orders.ibd') === 1 && count('ibdata1') === 2, 'a later pass saw the changes');
      // Several more passes: nothing changed, nothing is flushed again.
      await new Promise((resolve) => setTimeout(resolve, 100));
      stop.abort();
      await loop;
      assert.deepEqual(
        ['ibdata1', 'untouched', 'shop/orders.ibd'].map(count),
        [2, 1, 1],
        'each file once per change, never a directory (the strict pass does those)',
      );
    });

    it('a flush that rejects or throws is tried again on a later pass, and the passes never fail (failing fsync)', async () => {
      await writeFile(join(root, 'rejects'), 'a');
      await writeFile(join(root, 'throws'), 'b');
      const tries = new Map<string, number>();
      const syncOne = (path: string): Promise<void> => {
        const n = (tries.get(path) ?? 0) + 1;
        tries.set(path, n);
        if (n === 1 && path.endsWith('throws')) throw new Error('thrown, not rejected');
        if (n === 1) return Promise.reject(new Error('ENOENT: no such file or directory'));
        return Promise.resolve();
      };
      const stop = new AbortController();
      const loop = syncTreeWhileWritten(root, stop.signal, syncOne, 10);
      await until(() => [...tries.values()].every((n) => n >= 2) && tries.size === 2, 'both were tried again');
      await new Promise((resolve) => setTimeout(resolve, 50));
      stop.abort();
      await loop;
      assert.deepEqual([...tries.values()], [2, 2], 'tried again until flushed, then left alone');
    });

    it('stopping ends the pass before its next file (slow recording fsync)', async () => {
      const names = Array.from({ length: 200 }, (_, i) => `f${i}.ibd`);
      for (const name of names) await writeFile(join(root, name), name);
      let calls = 0;
      // 100 ms a file, 16 at a time: a whole pass would take 1.25 s.
      const syncOne = async (): Promise<void> => {
        calls += 1;
        await new Promise((resolve) => setTimeout(resolve, 100));
      };
      const stop = new AbortController();
      const loop = syncTreeWhileWritten(root, stop.signal, syncOne, 10);
      await until(() => calls > 0, 'the pass began');
      stop.abort();
      await loop;
      assert.ok(calls < names.length, `stopped after ${calls} of ${names.length} files`);
    });

    it('a pass that takes long makes the pause after it twice its length (slow recording fsync)', async () => {
      await writeFile(join(root, 'ibdata1'), '0');
      const flushedAt: number[] = [];
      const syncOne = async (): Promise<void> => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        flushedAt.push(Date.now());
      };
      const stop = new AbortController();
      const loop = syncTreeWhileWritten(root, stop.signal, syncOne, 1);
      await until(() => flushedAt.length === 1, 'the first pass flushed');
      await appendFile(join(root, 'ibdata1'), '1');
      await until(() => flushedAt.length === 2, 'the next pass flushed the change');
      stop.abort();
      await loop;
      const [first = 0, second = 0] = flushedAt;
      // The second pass began at least 2 × 100 ms after the first ended, then took 100 ms itself.
      assert.ok(second - first >= 295, `passes ${second - first} ms apart, not at least 300`);
    });
  });
});

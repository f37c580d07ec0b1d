import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsyncPath, syncTree } from '../../../runner/restores/datadir-sync.js';

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
});

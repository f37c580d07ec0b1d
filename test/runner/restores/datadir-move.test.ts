// Moving a prepared data directory into DIR: markers last, the old contents deleted only after
// the move, and put back when the move fails half-way.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../lib/logger.js';
import { fillTarget, moveOrder, removeBackupLeftovers } from '../../../runner/restores/datadir-move.js';
import { PrepareFailedError } from '../../../runner/work-failures.js';

describe('restore-datadir move into DIR', () => {
  const logger = createLogger('test');
  logger.level = 'silent';
  let dir: string;
  let staging: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-move-'));
    staging = join(dir, '.lifeboat-restore-x');
    await mkdir(join(staging, 'shop'), { recursive: true });
    await writeFile(join(staging, 'ibdata1'), 'new');
    await writeFile(join(staging, 'shop', 't.ibd'), 'new table');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('moves the data directory markers last', () => {
    assert.deepEqual(moveOrder(['ibdata1', 'shop', 'mysql', 'aria_log_control', 'x']), [
      'shop',
      'x',
      'ibdata1',
      'mysql',
      'aria_log_control',
    ]);
  });

  it('replaces the old entries and deletes them after the move', async () => {
    await writeFile(join(dir, 'old.txt'), 'old');
    await fillTarget(dir, staging, ['old.txt'], logger);
    assert.deepEqual((await readdir(dir)).sort(), ['ibdata1', 'shop']);
    assert.equal(await readFile(join(dir, 'shop', 't.ibd'), 'utf8'), 'new table');
  });

  it('a move that fails half-way puts the old contents back and keeps the new ones in staging', async () => {
    await writeFile(join(dir, 'old.txt'), 'old');
    // A non-empty directory `shop` that is not being replaced: renaming staging/shop onto it fails.
    await mkdir(join(dir, 'shop'));
    await writeFile(join(dir, 'shop', 'keep'), 'theirs');
    await assert.rejects(
      fillTarget(dir, staging, ['old.txt'], logger),
      (err: unknown) => err instanceof PrepareFailedError && /holds what it held before/.test(err.message),
    );
    assert.deepEqual((await readdir(dir)).sort(), ['.lifeboat-restore-x', 'old.txt', 'shop']);
    assert.equal(await readFile(join(dir, 'old.txt'), 'utf8'), 'old');
    assert.deepEqual((await readdir(staging)).sort(), ['ibdata1', 'shop']);
  });

  it('removes mariabackup’s own files, keeps the Galera and binlog info', async () => {
    for (const n of ['backup-my.cnf', 'xtrabackup_checkpoints', 'xtrabackup_galera_info', 'xtrabackup_binlog_info'])
      await writeFile(join(staging, n), 'x');
    assert.deepEqual(await removeBackupLeftovers(staging), ['backup-my.cnf', 'xtrabackup_checkpoints']);
    assert.deepEqual((await readdir(staging)).sort(), [
      'ibdata1',
      'shop',
      'xtrabackup_binlog_info',
      'xtrabackup_galera_info',
    ]);
  });
});

// What restore-datadir may do with its target: the decisions as a table, then inspectTarget on disk.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  classifyEntries,
  inspectTarget,
  planTarget,
  unusableTarget,
  type TargetPlan,
  type TargetState,
} from '../../../runner/restores/datadir-target.js';
import { TargetNotEmptyError } from '../../../runner/work-failures.js';

describe('restore-datadir target', () => {
  const cases: [string, string[], TargetState][] = [
    ['nothing', [], { kind: 'empty', staleStaging: [] }],
    ['only lost+found (a fresh volume)', ['lost+found'], { kind: 'empty', staleStaging: [] }],
    ['ibdata1', ['ibdata1', 'foo'], { kind: 'datadir', marker: 'ibdata1' }],
    ['mysql/ alone', ['mysql'], { kind: 'datadir', marker: 'mysql' }],
    ['aria_log_control', ['aria_log_control'], { kind: 'datadir', marker: 'aria_log_control' }],
    ['MySQL 8 mysql.ibd', ['mysql.ibd'], { kind: 'datadir', marker: 'mysql.ibd' }],
    [
      'other files',
      ['notes.txt', 'lost+found', '.lifeboat-restore-ab12'],
      { kind: 'occupied', entries: ['notes.txt'], staleStaging: ['.lifeboat-restore-ab12'] },
    ],
    [
      'a killed run’s staging only',
      ['.lifeboat-restore-ab12'],
      { kind: 'empty', staleStaging: ['.lifeboat-restore-ab12'] },
    ],
    [
      'an interrupted overwrite',
      ['.lifeboat-old-1234', 'db1'],
      { kind: 'interrupted-overwrite', oldDir: '.lifeboat-old-1234' },
    ],
  ];
  for (const [what, names, state] of cases) {
    it(`classifies ${what}`, () => assert.deepEqual(classifyEntries(names), state));
  }

  const plans: [string, TargetState, boolean, TargetPlan][] = [
    ['absent → create', { kind: 'absent' }, false, { action: 'create' }],
    [
      'data directory → nothing, even with overwrite',
      { kind: 'datadir', marker: 'mysql' },
      true,
      { action: 'nothing', marker: 'mysql' },
    ],
    ['empty → fill', { kind: 'empty', staleStaging: [] }, false, { action: 'fill', replace: [], staleStaging: [] }],
    [
      'occupied with overwrite → fill, replacing its entries',
      { kind: 'occupied', entries: ['a', 'b'], staleStaging: [] },
      true,
      { action: 'fill', replace: ['a', 'b'], staleStaging: [] },
    ],
  ];
  for (const [what, state, overwrite, plan] of plans) {
    it(`plans ${what}`, () => assert.deepEqual(planTarget('/data', state, overwrite), plan));
  }

  it('refuses an occupied directory without overwrite, naming what is there and the flag', () => {
    const state: TargetState = { kind: 'occupied', entries: ['a', 'b', 'c', 'd', 'e', 'f', 'g'], staleStaging: [] };
    assert.throws(
      () => planTarget('/data', state, false),
      (err: unknown) =>
        err instanceof TargetNotEmptyError &&
        /\/data is not empty .*a, b, c, d, e and 2 more.*nothing was written.*--overwrite/.test(err.message),
    );
  });

  it('refuses the remains of an interrupted overwrite, even with overwrite', () => {
    assert.throws(
      () => planTarget('/data', { kind: 'interrupted-overwrite', oldDir: '.lifeboat-old-1' }, true),
      (err: unknown) => err instanceof TargetNotEmptyError && /\/data\/\.lifeboat-old-1/.test(err.message),
    );
  });

  describe('on disk', () => {
    let root: string;
    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'lifeboat-target-'));
    });
    afterEach(() => rm(root, { recursive: true, force: true }));

    it('a missing directory is absent; one with mysql/ is a data directory', async () => {
      assert.deepEqual(await inspectTarget(join(root, 'nope')), { kind: 'absent' });
      await mkdir(join(root, 'd', 'mysql'), { recursive: true });
      assert.deepEqual(await inspectTarget(join(root, 'd')), { kind: 'datadir', marker: 'mysql' });
    });

    it('a file where the directory should be is refused saying so, not "absent" and not a stack trace', async () => {
      await writeFile(join(root, 'f'), 'x');
      await assert.rejects(
        inspectTarget(join(root, 'f')),
        (err: unknown) =>
          err instanceof TargetNotEmptyError &&
          /is a file, not a directory; name the data directory with --to/.test(err.message),
      );
    });

    it('a path under a file names the part that is a file, not the path', async () => {
      await writeFile(join(root, 'f'), 'x');
      await assert.rejects(
        inspectTarget(join(root, 'f', 'sub')),
        (err: unknown) =>
          err instanceof TargetNotEmptyError &&
          err.message ===
            `a part of ${join(root, 'f', 'sub')} is a file, not a directory; name the data directory with --to`,
      );
    });
  });

  describe('unusableTarget: filesystem errors as what to change (errors made by hand)', () => {
    const failed = (code: string): Error => Object.assign(new Error(`${code}: x`), { code });

    for (const [code, want] of [
      [
        'EACCES',
        /^\/data\/db cannot be created \(permission denied to uid \d+\): give this user read and write access .*runAsUser.*fsGroup.*--to$/,
      ],
      ['EPERM', /permission denied/],
      [
        'EROFS',
        /^\/data\/db cannot be created: the filesystem is read-only; name a writable data directory with --to$/,
      ],
      ['ENOSPC', /no space left on its filesystem/],
    ] as const) {
      it(`${code}: TargetNotEmpty saying what to change`, async () => {
        const err = await unusableTarget(failed(code), '/data/db', 'create');
        assert.ok(err instanceof TargetNotEmptyError, String(err));
        assert.match(err.message, want);
      });
    }

    it('reading: says it cannot be read', async () => {
      const err = await unusableTarget(failed('EACCES'), '/data/db', 'read');
      assert.match(String((err as Error).message), /^\/data\/db cannot be read \(permission denied/);
    });

    it('any other error is returned as it is', async () => {
      const other = failed('EIO');
      assert.equal(await unusableTarget(other, '/data/db', 'create'), other);
    });
  });
});

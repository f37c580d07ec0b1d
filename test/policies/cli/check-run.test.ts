// The report of `lifeboat check` does not depend on how it was made: the same findings, in the
// same order and at the same lines and columns, from one thread or from worker threads that split
// the files between them, in every output format.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { runCheck, type CheckOptions, type CheckReport } from '../../../policies/cli/check-run.js';
import { PACKAGE_ROOT } from '../../../policies/cli/package-paths.js';
import { formatJson, formatJunit, formatSarif } from '../../../policies/cli/report-json.js';
import { formatGithub, formatText } from '../../../policies/cli/report-text.js';
import { DEFAULT_SETTINGS } from '../../../policies/policy-types.js';

const RESTORE = `apiVersion: lifeboat.dev/v1alpha1
kind: Restore
metadata: {name: NAME, namespace: shop}
spec:
  cluster: {name: shop}
  source: shop-old
  recoveryTarget: {targetImmediate: true}
  backupID: x
  backup: {name: oops}
`;

let dir: string;

function check(options: CheckOptions): Promise<CheckReport> {
  return runCheck([dir], DEFAULT_SETTINGS, { maxFileBytes: 10 << 20, stdin: Readable.from([]) }, options);
}

function formats(report: CheckReport): string[] {
  return [formatText, formatGithub, formatJson, formatJunit, (r: CheckReport) => formatSarif(r, '0')].map((f) =>
    f(report),
  );
}

function lines(report: CheckReport): string[] {
  return formatText(report).replaceAll(dir, '.').trimEnd().split('\n');
}

describe('lifeboat check: one thread or several, the same report', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-check-run-'));
    // Every policy's examples and the mixed fixture: findings of every kind, in many files.
    cpSync(join(PACKAGE_ROOT, 'policies', 'examples'), join(dir, 'examples'), { recursive: true });
    cpSync(join(PACKAGE_ROOT, 'test', 'fixtures', 'mixed'), join(dir, 'mixed'), { recursive: true });
    mkdirSync(join(dir, 'many'));
    // Findings in several documents of one file, and the same Restore again in a later file (LB006).
    const restores = ['r1', 'r2', 'r3'].map((n) => RESTORE.replace('NAME', n)).join('---\n');
    writeFileSync(join(dir, 'many', 'a-restores.yaml'), restores);
    writeFileSync(join(dir, 'many', 'z-again.yaml'), `# again\n---\n${RESTORE.replace('NAME', 'r2')}`);
    for (let i = 0; i < 20; i++)
      writeFileSync(join(dir, 'many', `m-${i}.yaml`), restores.replaceAll(': r', `: r${i}-`));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // The lines and columns the check printed before it recorded positions while reading.
  it('places findings in several documents of one file, and a duplicate in a later file', async () => {
    const report = await check({ threads: 1 });
    const mine = lines(report).filter((l) => /^\.\/many\/(a-restores|z-again)/.test(l));
    assert.deepEqual(
      mine.map((l) => l.replace(/ {2}(LB\d+) {2}.*/, ' $1')),
      [
        './many/a-restores.yaml:5:13 LB603',
        './many/a-restores.yaml:6:3 LB101',
        './many/a-restores.yaml:9:12 LB602',
        './many/a-restores.yaml:15:13 LB603',
        './many/a-restores.yaml:16:3 LB101',
        './many/a-restores.yaml:19:12 LB602',
        './many/a-restores.yaml:25:13 LB603',
        './many/a-restores.yaml:26:3 LB101',
        './many/a-restores.yaml:29:12 LB602',
        './many/z-again.yaml:5:12 LB006',
        './many/z-again.yaml:7:13 LB603',
        './many/z-again.yaml:8:3 LB101',
        './many/z-again.yaml:11:12 LB602',
      ],
    );
    assert.match(mine[9] ?? '', /Restore r2 is also defined at .*a-restores\.yaml:13;/);
  });

  it('the fixture with its expected report is unchanged', async () => {
    const mixed = await runCheck(
      [join(PACKAGE_ROOT, 'test', 'fixtures', 'mixed')],
      DEFAULT_SETTINGS,
      { maxFileBytes: 10 << 20, stdin: Readable.from([]) },
      { threads: 2, workersOnly: true },
    );
    const expected = readFileSync(join(PACKAGE_ROOT, 'test', 'fixtures', 'mixed.expected.txt'), 'utf8');
    assert.equal(formatText(mixed).replaceAll(PACKAGE_ROOT + '/', ''), expected);
  });

  it('worker threads (every file parsed in a worker) give the report of one thread, in every format', async () => {
    const one = await check({ threads: 1 });
    assert.ok(one.findings.length > 100, `${one.findings.length} findings`);
    assert.ok(one.findings.some((f) => f.policy === 'LB006'));
    for (const threads of [2, 3]) {
      const workers = await check({ threads, workersOnly: true });
      assert.deepEqual(formats(workers), formats(one), `${threads} threads`);
    }
  });

  it('this thread and a worker sharing the files give the same report', async () => {
    const one = await check({ threads: 1 });
    assert.deepEqual(formats(await check({ threads: 2 })), formats(one));
  });
});

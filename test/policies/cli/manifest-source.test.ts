// Bad input for `lifeboat check`: every case names the file (and line), and the rest is still read.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { exitCode, runCheck, type CheckReport } from '../../../policies/cli/check-run.js';
import { readInputs } from '../../../policies/cli/manifest-source.js';
import { DEFAULT_SETTINGS } from '../../../policies/policy-types.js';

const VALID = `apiVersion: lifeboat.dev/v1alpha1
kind: Cluster
metadata: {name: shop}
spec:
  engine: mariadb
  topology: standalone
  instances: {static: [{name: shop-0, host: db}]}
  credentials: {secretRef: {name: shop-db}}
  backup: {objectStore: {bucket: backups, inheritFromIAMRole: true}}
`;

let dir: string;

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  return path;
}

function check(paths: string[], stdin = '', maxFileBytes = 10 << 20): Promise<CheckReport> {
  return runCheck(paths, DEFAULT_SETTINGS, { maxFileBytes, stdin: Readable.from([Buffer.from(stdin)]) });
}

function lines(report: CheckReport): string[] {
  return report.findings.map(
    (f) => `${f.file.replace(dir, '.')}:${f.line}:${f.column} ${f.policy} ${f.message.replace(dir, '.')}`,
  );
}

describe('lifeboat check: reading input', () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-src-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('malformed YAML: file, line and column, exit 2, and the other files are still checked', async () => {
    file('a-broken.yaml', 'kind: Backup\nspec:\n  cluster: [unclosed\n');
    file('b-good.yaml', VALID);
    const report = await check([dir]);
    assert.equal(report.resources, 1);
    assert.equal(report.files.length, 2);
    assert.equal(report.findings.length, 1);
    assert.match(lines(report)[0] ?? '', /^\.\/a-broken\.yaml:\d+:\d+ LB002 YAML: /);
    assert.equal(exitCode(report, false), 2);
  });

  it('a document that is not an object', async () => {
    const report = await check([file('list.yaml', `${VALID}---\n- just\n- a list\n`)]);
    assert.deepEqual(lines(report), [
      './list.yaml:11:1 LB003 this is a list, not an object; each YAML document (or List item) must be one Kubernetes manifest',
    ]);
    assert.equal(exitCode(report, false), 2);
  });

  it('a wrong type deep in a spec, with its line', async () => {
    const report = await check([file('deep.yaml', VALID.replace('host: db}', 'host: db, port: "3306"}'))]);
    assert.deepEqual(lines(report), [
      './deep.yaml:7:49 LB004 spec.instances.static[0].port: must be an integer, not a string',
    ]);
    assert.equal(exitCode(report, false), 2);
  });

  it('a 50 MB file is refused by its size, and the rest is checked', async () => {
    const big = file('big.yaml', Buffer.alloc(50 * 1024 * 1024, 0x61));
    file('ok.yaml', VALID);
    const report = await check([dir]);
    assert.deepEqual(lines(report), [
      `./big.yaml:1:1 LB001 ./big.yaml is 50.0 MiB, over the 10.0 MiB limit; split it, or raise --max-file-size`,
    ]);
    assert.equal(report.resources, 1);
    assert.ok(big.endsWith('big.yaml'));
  });

  it('binary junk and non-UTF-8 text', async () => {
    file('junk.yaml', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01, 0x02]));
    file('latin1.yaml', Buffer.from('name: caf\xe9\n', 'latin1'));
    const report = await check([dir]);
    assert.deepEqual(lines(report).sort(), [
      './junk.yaml:1:1 LB001 ./junk.yaml is binary (it holds NUL bytes), not a YAML or JSON manifest',
      './latin1.yaml:1:1 LB001 ./latin1.yaml is not UTF-8 text; save it as UTF-8',
    ]);
    assert.equal(exitCode(report, false), 2);
  });

  it('a symlink loop in a folder is reported, not followed forever', async () => {
    file('sub/ok.yaml', VALID);
    symlinkSync(dir, join(dir, 'sub', 'back-to-top'));
    symlinkSync(join(dir, 'self'), join(dir, 'self'));
    const report = await check([dir]);
    assert.equal(report.resources, 1);
    assert.deepEqual(
      lines(report)
        .map((l) => l.replace(/\/tmp\/[^ ,]+/, 'DIR'))
        .sort(),
      [
        './self:1:1 LB001 ./self symlink loop: the link points (through other links) back to itself',
        './sub/back-to-top:1:1 LB001 ./sub/back-to-top symlink loop: it leads back to DIR, which contains it; remove the link',
      ],
    );
  });

  it('a missing path, and a folder walk that skips other extensions and hidden folders', async () => {
    file('notes.txt', 'not a manifest: [');
    file('.git/config.yaml', 'broken: [');
    file('x/cluster.yml', VALID);
    const report = await check([dir, join(dir, 'nope.yaml')]);
    assert.equal(report.resources, 1);
    assert.deepEqual(lines(report), ['./nope.yaml:1:1 LB001 ./nope.yaml no such file or folder']);
  });

  it('reads stdin for -, alongside files', async () => {
    const report = await check(['-', file('c.yaml', VALID.replace('name: shop}', 'name: other}'))], VALID);
    assert.equal(report.resources, 2);
    assert.deepEqual(
      report.files.map((f) => f.replace(dir, '.')),
      ['<stdin>', './c.yaml'],
    );
  });

  it('caps stdin at the size limit', async () => {
    const result = await readInputs(['-'], { maxFileBytes: 10, stdin: Readable.from([Buffer.from('x'.repeat(11))]) });
    assert.deepEqual(result.problems, [
      { name: '<stdin>', message: 'is over the 0.0 MiB limit; split the input, or raise --max-file-size' },
    ]);
  });

  it('expands kind: List and locates findings inside its items', async () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n  - apiVersion: lifeboat.dev/v1alpha1\n    kind: Backup\n    metadata: {name: b}\n    spec:\n      cluster: {name: shop}\n      allowUnsafe: true\n`;
    const report = await check([file('list.yaml', list), file('cluster.yaml', VALID)]);
    assert.deepEqual(lines(report), [
      './list.yaml:9:7 LB501 allowUnsafe needs the annotation lifeboat.dev/unsafe-reason saying why the cluster must be backed up unhealthy',
    ]);
  });

  it('an alias bomb is refused, not expanded', async () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      ...Array.from(
        { length: 8 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(',')}]`,
      ),
    ].join('\n');
    const report = await check([file('bomb.yaml', bomb)]);
    assert.equal(report.findings[0]?.policy, 'LB002');
  });

  it('an alias inside its own anchor is reported, not followed', async () => {
    const report = await check([file('cycle.yaml', 'apiVersion: lifeboat.dev/v1alpha1\nkind: &k [*k]\n')]);
    assert.deepEqual(lines(report), [
      './cycle.yaml:1:1 LB002 YAML: an alias refers to a node that contains it; write the value out instead',
    ]);
    assert.equal(exitCode(report, false), 2);
  });

  it('merge keys work as kubectl reads them', async () => {
    const merged = VALID.replace(
      '  backup: {objectStore: {bucket: backups, inheritFromIAMRole: true}}\n',
      '  backup:\n    objectStore:\n      <<: &store {bucket: backups, inheritFromIAMRole: true}\n      path: prod\n',
    );
    const report = await check([file('merge.yaml', merged)]);
    assert.deepEqual(lines(report), []);
    assert.equal(report.resources, 1);
  });

  it('skips foreign kinds that merely end in List', async () => {
    const report = await check([
      file(
        'allow.yaml',
        `apiVersion: networking.example.io/v1\nkind: IPAllowList\nitems: [10.0.0.0/8, 42]\n---\n${VALID}`,
      ),
    ]);
    assert.deepEqual(lines(report), []);
    assert.equal(report.resources, 1);
  });

  it('reads a file once however often it is named, and the order of inputs does not change the result', async () => {
    const cluster = file('a/cluster.yaml', VALID);
    file('b/cluster.yaml', VALID.replace('name: shop-db', 'name: other-db'));
    const twice = await check([cluster, join(dir, 'a'), cluster]);
    assert.equal(twice.files.length, 1);
    // Conflicting definitions: the first is used and the later one is pointed out, in either order.
    const forward = await check([join(dir, 'a'), join(dir, 'b')]);
    const backward = await check([join(dir, 'b'), join(dir, 'a')]);
    assert.deepEqual(
      lines(forward).map((l) => l.slice(0, l.indexOf(' defined at'))),
      ['./b/cluster.yaml:3:12 LB006 Cluster shop is also'],
    );
    assert.deepEqual(
      lines(backward).map((l) => l.slice(0, l.indexOf(' defined at'))),
      ['./a/cluster.yaml:3:12 LB006 Cluster shop is also'],
    );
    assert.match(lines(forward)[0] ?? '', /defined at .*\/a\/cluster.yaml:3; the first definition was used/);
    assert.equal(exitCode(forward, false), 0, 'a duplicate warns');
  });

  it('a document nested too deep for the fast parser is still read', async () => {
    const deep = VALID + `  extra: ${'['.repeat(150)}${']'.repeat(150)}\n`;
    const report = await check([file('deep.yaml', deep)]);
    assert.deepEqual(
      lines(report).map((l) => l.split(':')[0] + l.slice(l.indexOf(' '))),
      [
        './deep.yaml LB004 spec.extra: unknown field "extra"; allowed here: engine, version, topology, instances, credentials, backup, bootstrap, externalClusters',
      ],
    );
  });

  it('a Cluster that fails its schema is not also reported missing by the Backups that name it', async () => {
    const broken = VALID.replace('topology: standalone', 'topology: ring');
    const backup =
      'apiVersion: lifeboat.dev/v1alpha1\nkind: Backup\nmetadata: {name: b}\nspec:\n  cluster: {name: shop}\n';
    const report = await check([file('cluster.yaml', broken), file('backup.yaml', backup)]);
    assert.deepEqual(
      report.findings.map((f) => f.policy),
      ['LB004'],
    );
  });
});

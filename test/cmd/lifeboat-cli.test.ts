// The lifeboat binary as a user runs it: exit codes, stdin, --output, usage errors without stack traces.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CATALOG } from '../../policies/catalog.js';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';

const BIN = join(PACKAGE_ROOT, 'dist', 'cmd', 'lifeboat.js');
const EXAMPLES = join(PACKAGE_ROOT, 'policies', 'examples');

function lifeboat(args: string[], input = ''): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', cwd: PACKAGE_ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('lifeboat CLI', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('check exits 0 on clean input, 1 on a deny, 2 on unparseable input', () => {
    assert.equal(lifeboat(['check', join(EXAMPLES, 'LB101', 'pass.yaml')]).status, 0);
    const denied = lifeboat(['check', 'policies/examples/LB202/fail.yaml']);
    assert.equal(denied.status, 1);
    assert.match(denied.stdout, /^policies\/examples\/LB202\/fail.yaml:10:\d+ {2}LB202 {2}bucket "Shop_Backups"/m);
    assert.equal(
      lifeboat(['check', 'policies/examples/LB002/fail.yaml', 'policies/examples/LB202/fail.yaml']).status,
      2,
    );
  });

  it('warnings fail only with --warnings-as-errors', () => {
    const file = 'policies/examples/LB603/fail.yaml';
    assert.equal(lifeboat(['check', file]).status, 0);
    assert.equal(lifeboat(['check', '--warnings-as-errors', file]).status, 1);
  });

  it('reads stdin for -', () => {
    const r = lifeboat(['check', '-'], readFileSync(join(EXAMPLES, 'LB505', 'fail.yaml'), 'utf8'));
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^<stdin>:\d+:\d+ {2}LB505 /m);
  });

  it('writes --output in the chosen --format', () => {
    const out = join(dir, 'report.sarif');
    const r = lifeboat(['check', '--format', 'sarif', '--output', out, 'policies/examples/LB101/fail.yaml']);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    const log = JSON.parse(readFileSync(out, 'utf8')) as { runs: { results: { ruleId: string }[] }[] };
    assert.ok(log.runs[0]?.results.some((x) => x.ruleId === 'LB101'));
  });

  it('usage mistakes exit 2 with a message and no stack trace', () => {
    for (const args of [
      ['check'],
      ['check', '--format', 'xml', 'x.yaml'],
      ['check', '--bogus'],
      ['explain', 'LB999'],
      ['frobnicate'],
      ['check', '--min-schedule-interval', 'soon', 'x.yaml'],
      ['check', '--threads', '0', 'x.yaml'],
      ['check', '--threads', 'many', 'x.yaml'],
    ]) {
      const r = lifeboat(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.length > 0, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${args.join(' ')} printed a stack trace`);
    }
    assert.match(lifeboat(['check']).stderr, /give the files or folders to read, or - for stdin/);
    assert.match(lifeboat(['explain', 'LB999']).stderr, /no policy "LB999"; run "lifeboat explain" to list them/);
    assert.match(lifeboat(['check', '--threads', '0', 'x.yaml']).stderr, /write a whole number of threads, 1 or more/);
  });

  it('--min-schedule-interval moves the floor', () => {
    const file = 'policies/examples/LB505/pass.yaml';
    assert.equal(lifeboat(['check', file]).status, 0);
    const r = lifeboat(['check', '--min-schedule-interval', '12h', file]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /fires every 6h, more often than the floor of 12h/);
  });

  it('--namespace places manifests that name none', () => {
    const files = [join(dir, 'cluster.yaml'), join(dir, 'backup.yaml')];
    const [clusterDoc, backupDoc] = readFileSync(join(EXAMPLES, 'LB603', 'pass.yaml'), 'utf8').split('---\n');
    writeFileSync(files[0]!, clusterDoc!.replace('metadata: {name: shop}', 'metadata: {name: shop, namespace: prod}'));
    writeFileSync(files[1]!, backupDoc!);
    assert.match(lifeboat(['check', ...files]).stdout, /LB603/);
    assert.equal(lifeboat(['check', '-n', 'prod', ...files]).status, 0);
  });

  it('explain prints a policy, and lists all without an ID', () => {
    const one = lifeboat(['explain', 'recovery-one-origin']);
    assert.equal(one.status, 0);
    assert.match(one.stdout, /^LB101 recovery-one-origin \(deny, recovery\)/);
    assert.match(one.stdout, /Denied:\n\n {4}apiVersion: lifeboat.dev\/v1alpha1/);
    const all = lifeboat(['explain']);
    assert.equal(all.stdout.trim().split('\n').length, CATALOG.length);
  });

  it('render fills absent fields, keeps comments and foreign manifests, and is stable on its own output', () => {
    const input =
      '# the shop database\n' +
      readFileSync(join(EXAMPLES, 'LB301', 'fail.yaml'), 'utf8') +
      '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: untouched}\n';
    const once = lifeboat(['render', '-'], input);
    assert.equal(once.status, 0, once.stderr);
    assert.match(once.stdout, /# the shop database/);
    assert.match(once.stdout, /labels: \{ lifeboat.dev\/cluster: shop \}/);
    assert.equal(once.stdout.match(/^---$/gm)?.length, 2, 'three documents, two separators');
    assert.match(once.stdout, /method: mariabackup/);
    assert.match(once.stdout, /target: prefer-standby/);
    assert.match(once.stdout, /kind: ConfigMap\nmetadata: \{ name: untouched \}/);
    const twice = lifeboat(['render', '-'], once.stdout);
    assert.equal(twice.stdout.replace(/# Source: .*\n/g, ''), once.stdout.replace(/# Source: .*\n/g, ''));
  });

  it('render refuses to fill a field behind a YAML alias instead of changing every alias', () => {
    const list = [
      'apiVersion: v1',
      'kind: List',
      'items:',
      '  - {apiVersion: lifeboat.dev/v1alpha1, kind: Backup, metadata: {name: a}, spec: &spec {cluster: {name: shop}}}',
      '  - {apiVersion: lifeboat.dev/v1alpha1, kind: Backup, metadata: {name: b}, spec: *spec}',
      '',
    ].join('\n');
    const r = lifeboat(['render', '-'], list);
    assert.equal(r.status, 2);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.match(
      r.stderr,
      /^<stdin>:4:\d+ {2}LB30[23] {2}cannot fill spec\.\w+: it lies inside a YAML anchor or alias; write that part out$/m,
    );
    assert.match(r.stdout, /spec: \*spec/, 'the alias is left as written');
  });

  it('reads a pipe given as a path, as from <(kustomize build)', () => {
    const r = spawnSync(
      'bash',
      ['-c', `"${process.execPath}" "${BIN}" check <(cat crds/samples/2-cluster-standalone.yaml)`],
      { encoding: 'utf8', cwd: PACKAGE_ROOT },
    );
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /No problems: 1 Lifeboat resource in 1 file/);
  });

  it('render reports input it cannot read on stderr with exit 2', () => {
    const r = lifeboat(['render', 'policies/examples/LB004/fail.yaml']);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /^policies\/examples\/LB004\/fail.yaml:\d+:\d+ {2}LB004 {2}spec.instances.statc: unknown field/m,
    );
  });
});

describe('lifeboat check on a folder mixing valid and invalid manifests of all four kinds', () => {
  it('prints exactly the expected report and exits 2 (a schema error is among the findings)', () => {
    const r = lifeboat(['check', 'test/fixtures/mixed']);
    assert.equal(r.stdout, readFileSync(join(PACKAGE_ROOT, 'test', 'fixtures', 'mixed.expected.txt'), 'utf8'));
    assert.equal(r.status, 2);
  });

  it('the shipped samples pass', () => {
    const r = lifeboat(['check', 'crds/samples']);
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /^No problems: 5 Lifeboat resources in 6 files\.$/m);
  });
});

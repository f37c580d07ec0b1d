// Time of `lifeboat check` on generated manifests, beside kubeconform (schema only, given the
// CRDs' JSON schemas) and three baselines that only read and parse the same files, on a clean set
// and on a set with findings in every file. Whole processes, medians. Prints figures and the
// goals; asserts nothing.
//   npm run bench:check [-- --resources 10000 --runs 5 --mistake-every 1 --lifeboat path/to/lifeboat.js]
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import {
  kubeconformLocation,
  kubeconformSchemas,
  writeKubeconformSchemas,
  type CrdDocument,
} from '../cmd/generate-kube-schemas.js';
import { PACKAGE_ROOT } from '../policies/cli/package-paths.js';
import { median, verdict } from './bench-support.js';

const { values } = parseArgs({
  options: {
    resources: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '5' },
    // The findings set: one Restore in how many has a mistake (both backup and source). 1 puts
    // findings in every document group of every file, the worst case for locating them.
    'mistake-every': { type: 'string', default: '1' },
    // Another build's dist/cmd/lifeboat.js, to compare it on the same sets.
    lifeboat: { type: 'string', default: join(PACKAGE_ROOT, 'dist', 'cmd', 'lifeboat.js') },
  },
});
/** The build to time, links resolved: the floor finds its modules beside it. */
const LIFEBOAT = ((): string => {
  try {
    return realpathSync(values.lifeboat);
  } catch {
    console.error(`--lifeboat ${values.lifeboat}: no such file; give a build's dist/cmd/lifeboat.js`);
    process.exit(2);
  }
})();
const RESOURCES = Number(values.resources);
const RUNS = Number(values.runs);
const MISTAKE_EVERY = Number(values['mistake-every']);
const GROUPS_PER_FILE = 12;
/** Goals: check at most this share of kubeconform's time, and findings cost at most this much. */
const GOAL_VS_KUBECONFORM = 0.67;
const GOAL_FINDINGS_VS_CLEAN = 1.2;
// Only Lifeboat kinds are generated, so no Kubernetes schemas are needed: any version will do.
const SCHEMA_VERSION = '1.32.0';

/** Four resources per cluster: the Cluster, a Backup, a ScheduledBackup and a Restore that refer to it. */
function group(i: number, mistake: boolean): string {
  const name = `db-${i}`;
  const ns = `team-${i % 40}`;
  return `apiVersion: lifeboat.dev/v1alpha1
kind: Cluster
metadata: {name: ${name}, namespace: ${ns}}
spec:
  engine: mariadb
  version: "10.11"
  topology: galera
  instances:
    static:
      - {name: ${name}-0, host: ${name}-0.${ns}.svc, port: 3306}
      - {name: ${name}-1, host: ${name}-1.${ns}.svc, port: 3306}
      - {name: ${name}-2, host: ${name}-2.${ns}.svc, port: 3306}
  credentials: {secretRef: {name: ${name}-db}}
  backup:
    objectStore:
      bucket: backups-${i % 7}
      path: prod/${ns}
      endpoint: https://s3.example.com
      credentials:
        accessKeyId: {name: ${name}-s3, key: ACCESS_KEY_ID}
        secretAccessKey: {name: ${name}-s3, key: SECRET_ACCESS_KEY}
    retention: {keep: 7, maxAge: 30d}
  externalClusters:
    - name: ${name}-old
      objectStore: {bucket: old-backups, path: archive, inheritFromIAMRole: true}
---
apiVersion: lifeboat.dev/v1alpha1
kind: Backup
metadata: {name: ${name}-manual, namespace: ${ns}}
spec:
  cluster: {name: ${name}}
  method: mariabackup
  target: ${i % 3 === 0 ? `${name}-1` : 'prefer-standby'}
---
apiVersion: lifeboat.dev/v1alpha1
kind: ScheduledBackup
metadata: {name: ${name}-nightly, namespace: ${ns}}
spec:
  schedule: "${i % 60} 3 * * *"
  timeZone: Europe/Berlin
  backupTemplate:
    cluster: {name: ${name}}
    compression: ${i % 2 === 0 ? 'gzip' : 'zstd'}
---
apiVersion: lifeboat.dev/v1alpha1
kind: Restore
metadata: {name: ${name}-restore, namespace: ${ns}}
spec:
  cluster: {name: ${name}}
  source: ${name}-old
  recoveryTarget: {targetImmediate: true}
${mistake ? '  backupID: x\n  backup: {name: oops}\n' : ''}`;
}

/** Writes the set; a mistake in one Restore of every `mistakeEvery` (0: none). Returns the file count. */
function generate(dir: string, mistakeEvery: number): number {
  const groups = Math.ceil(RESOURCES / 4);
  let files = 0;
  for (let f = 0; f * GROUPS_PER_FILE < groups; f++, files++) {
    const docs = [];
    for (let i = f * GROUPS_PER_FILE; i < Math.min(groups, (f + 1) * GROUPS_PER_FILE); i++)
      docs.push(group(i, mistakeEvery > 0 && i % mistakeEvery === 0));
    mkdirSync(join(dir, `team-${f % 10}`), { recursive: true });
    writeFileSync(join(dir, `team-${f % 10}`, `clusters-${f}.yaml`), docs.join('---\n'));
  }
  return files;
}

/** Code that parses `text` with one YAML library, bound to `jsyaml` or `yaml`, adding to `n`. */
interface Parse {
  readonly library: 'js-yaml' | 'yaml';
  readonly code: string;
}

/**
 * A process that only reads every file and parses it, with one of the two YAML libraries: after
 * importing `preload` (and all it imports) first, if given; on a worker thread too, if `threads`
 * is 2 (half of the files each). Any error ends it with status 2, which timeRun refuses.
 */
function parseOnly(parse: Parse, { preload, threads = 1 }: { preload?: string; threads?: 1 | 2 } = {}): string {
  const module = JSON.stringify(join(PACKAGE_ROOT, 'node_modules', parse.library));
  // Each thread loads only the library it parses with.
  const prelude = `
const { readFileSync } = require('node:fs');
const ${parse.library === 'js-yaml' ? 'jsyaml' : 'yaml'} = require(${module});
const parseFiles = (files) => { let n = 0; for (const p of files) { const text = readFileSync(p, 'utf8'); ${parse.code} } return n; };
`;
  const onWorker = `${prelude}require('node:worker_threads').parentPort.postMessage(parseFiles(require('node:worker_threads').workerData));`;
  const run = `() => {
  const { readdirSync } = require('node:fs');
  const { join } = require('node:path');
  const files = readdirSync(process.argv[1], { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
  if (${threads} === 1) return parseFiles(files);
  const half = Math.ceil(files.length / 2);
  const { Worker } = require('node:worker_threads');
  const worker = new Worker(${JSON.stringify(onWorker)}, { eval: true, workerData: files.slice(half) });
  worker.once('error', fail);
  // The process ends when the worker has posted its count and stopped.
  return parseFiles(files.slice(0, half));
}`;
  const fail = 'const fail = (err) => { console.error(err); process.exit(2); };\n';
  const start = preload
    ? `import(${JSON.stringify(pathToFileURL(preload).href)}).then(${run}).catch(fail);`
    : `try { (${run})(); } catch (err) { fail(err); }`;
  return `${prelude}${fail}${start}`;
}

/** A process to time; `findingsExit`: its exit status 1 means findings, not failure. */
type Command = (set: string) => { file: string; args: string[]; findingsExit?: boolean };

const JS_YAML_PARSE: Parse = {
  library: 'js-yaml',
  code: 'n += jsyaml.loadAll(text, null, { schema: jsyaml.CORE_SCHEMA }).length;',
};
const FLOOR = 'load check + js-yaml parse';

const BASELINES: Record<string, Command> = {
  // What any checker that reports lines and columns pays if it parses with position-keeping nodes.
  'read + yaml parse (nodes)': (set) => ({
    file: process.execPath,
    args: [
      '-e',
      parseOnly({
        library: 'yaml',
        code: 'for (const d of yaml.parseAllDocuments(text, { lineCounter: new yaml.LineCounter() })) { d.toJS(); n++; }',
      }),
      set,
    ],
  }),
  // Read and build plain values with the fastest parser, judge nothing.
  'read + js-yaml parse (values)': (set) => ({
    file: process.execPath,
    args: ['-e', parseOnly(JS_YAML_PARSE), set],
  }),
  // The same on two threads: what sharing the parse out gains on this many files.
  'read + js-yaml, 2 threads': (set) => ({
    file: process.execPath,
    args: ['-e', parseOnly(JS_YAML_PARSE, { threads: 2 }), set],
  }),
  // The floor of a checker in Node with Lifeboat's policies: load the modules `lifeboat check`
  // runs (policies, validators, parser; not the CLI around them), then read and parse as above,
  // judging nothing.
  [FLOOR]: (set) => ({
    file: process.execPath,
    args: [
      '-e',
      parseOnly(JS_YAML_PARSE, { preload: join(dirname(LIFEBOAT), '..', 'policies', 'cli', 'check-run.js') }),
      set,
    ],
  }),
};

/** kubeconform from hack/tools.sh, or why it is not there. */
function findKubeconform(): { binary: string } | { missing: string } {
  try {
    const dirs = execFileSync('bash', [join(PACKAGE_ROOT, 'hack', 'tools.sh'), 'bin-dir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const dir = dirs
      .trim()
      .split(':')
      .find((d) => existsSync(join(d, 'kubeconform')));
    if (dir) return { binary: join(dir, 'kubeconform') };
  } catch {
    // not built: said below
  }
  return { missing: 'kubeconform is not built; run: bash hack/tools.sh build (then run this bench again)' };
}

/** The CRDs' JSON schemas in kubeconform's layout, as e2e/install-manifests.e2e.ts makes them. */
function writeSchemas(dir: string): string {
  const crds = readdirSync(join(PACKAGE_ROOT, 'crds'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => parse(readFileSync(join(PACKAGE_ROOT, 'crds', f), 'utf8')) as CrdDocument);
  writeKubeconformSchemas(dir, SCHEMA_VERSION, () => kubeconformSchemas({ definitions: {} }, crds));
  return kubeconformLocation(dir);
}

function kubeconformArgs(location: string, set: string, extra: readonly string[] = []): string[] {
  return ['-strict', '-n', '2', '-kubernetes-version', SCHEMA_VERSION, '-schema-location', location, ...extra, set];
}

function timeRun({ file, args, findingsExit }: ReturnType<Command>): number {
  const start = process.hrtime.bigint();
  try {
    execFileSync(file, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (err) {
    // check exits 1 on purpose on the findings set; kubeconform exits 1 on an invalid resource.
    if (!findingsExit || (err as { status?: number }).status !== 1) throw err;
  }
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Output of a command that may exit 1 (findings, invalid resources). */
function outputOf(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  } catch (err) {
    const e = err as { status?: number; stdout?: string };
    if (e.status === 1 && e.stdout !== undefined) return e.stdout;
    throw err;
  }
}

/** What each set holds, checked before timing: the findings lifeboat reports, and in how many files. */
function describeSet(name: string, set: string, files: number): string {
  const report = JSON.parse(outputOf(process.execPath, [LIFEBOAT, 'check', '--format', 'json', set])) as {
    findings: { file: string }[];
  };
  const withFindings = new Set(report.findings.map((f) => f.file)).size;
  return `${name} set: ${report.findings.length} findings in ${withFindings} of ${files} files`;
}

function row(times: readonly number[], count: number): string {
  const t = median(times);
  return `${t.toFixed(3)} s ${String(Math.round(count / t)).padStart(6)}/s`;
}

type Sets = Record<'clean' | 'findings', string>;
type Times = Record<string, Record<string, number[]>>;

/** Every command on every set, once per run, interleaved so that a busy spell hits them alike. */
function measure(commands: Record<string, Command>, sets: Sets): Times {
  const times: Times = {};
  for (let r = 0; r < RUNS; r++) {
    for (const [name, set] of Object.entries(sets)) {
      const forSet = (times[name] ??= {});
      for (const [label, command] of Object.entries(commands)) (forSet[label] ??= []).push(timeRun(command(set)));
    }
  }
  return times;
}

function printResults(times: Times, labels: readonly string[], count: number, kubeconform: boolean): void {
  const t = (set: string, label: string): number => median(times[set]?.[label] ?? []);
  console.log(`${''.padEnd(30)} ${'clean set'.padEnd(20)} findings set`);
  for (const label of labels) {
    const clean = row(times['clean']?.[label] ?? [], count);
    console.log(`${label.padEnd(30)} ${clean.padEnd(20)} ${row(times['findings']?.[label] ?? [], count)}`);
  }
  for (const set of kubeconform ? ['clean', 'findings'] : []) {
    const ratio = t(set, 'lifeboat check') / t(set, KUBECONFORM);
    const floor = t(set, FLOOR) / t(set, KUBECONFORM);
    console.log(
      `lifeboat/kubeconform, ${set} set: ${ratio.toFixed(2)}x (goal <= ${GOAL_VS_KUBECONFORM}x: ${verdict(ratio, GOAL_VS_KUBECONFORM)}; floor ${floor.toFixed(2)}x)`,
    );
  }
  const cost = t('findings', 'lifeboat check') / t('clean', 'lifeboat check');
  console.log(
    `lifeboat findings set/clean set: ${cost.toFixed(2)}x (goal <= ${GOAL_FINDINGS_VS_CLEAN}x: ${verdict(cost, GOAL_FINDINGS_VS_CLEAN)})`,
  );
}

const KUBECONFORM = 'kubeconform -strict -n 2';

function main(root: string): void {
  const sets: Sets = { clean: join(root, 'clean'), findings: join(root, 'findings') };
  const files = generate(sets.clean, 0);
  generate(sets.findings, MISTAKE_EVERY);
  const count = Math.ceil(RESOURCES / 4) * 4;
  const found = findKubeconform();
  const kubeconform =
    'binary' in found ? { binary: found.binary, location: writeSchemas(join(root, 'schemas')) } : undefined;
  const commands: Record<string, Command> = {
    'lifeboat check': (set) => ({
      file: process.execPath,
      args: [LIFEBOAT, 'check', '--format', 'json', set],
      findingsExit: true,
    }),
    ...(kubeconform
      ? {
          [KUBECONFORM]: (set: string) => ({
            file: kubeconform.binary,
            args: kubeconformArgs(kubeconform.location, set),
            findingsExit: true,
          }),
        }
      : {}),
    ...BASELINES,
  };
  console.log(
    `resources: ${count} in ${files} files; clean set: no mistakes; findings set: one Restore in ${MISTAKE_EVERY} with a mistake; ${RUNS} runs each, medians, whole processes incl. start-up`,
  );
  for (const [name, set] of Object.entries(sets)) {
    const summary = kubeconform
      ? outputOf(kubeconform.binary, kubeconformArgs(kubeconform.location, set, ['-summary']))
          .trim()
          .split('\n')
          .at(-1)
      : undefined;
    console.log(`${describeSet(name, set, files)}${summary ? `; kubeconform: ${summary}` : ''}`);
  }
  if ('missing' in found) console.log(`lifeboat/kubeconform: not measured: ${found.missing}`);
  printResults(measure(commands, sets), Object.keys(commands), count, kubeconform !== undefined);
}

const root = mkdtempSync(join(tmpdir(), 'lifeboat-bench-'));
try {
  main(root);
} finally {
  rmSync(root, { recursive: true, force: true });
}

// Throughput of `lifeboat check` on generated manifests, beside a baseline that only reads and
// parses the same files with the same YAML library. Prints figures; asserts nothing.
//   npm run bench:check [-- --resources 10000 --runs 5]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT } from '../policies/cli/package-paths.js';

const { values } = parseArgs({
  options: {
    resources: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '5' },
    // One Restore in how many has a mistake (both backup and source): 200 is a repository that
    // mostly passes; 1 puts findings in every file, the worst case for locating them.
    'mistake-every': { type: 'string', default: '200' },
  },
});
const RESOURCES = Number(values.resources);
const RUNS = Number(values.runs);
const MISTAKE_EVERY = Number(values['mistake-every']);
const GROUPS_PER_FILE = 12;

/** Four resources per cluster: the Cluster, a Backup, a ScheduledBackup and a Restore that refer to it. */
function group(i: number): string {
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
    binlogArchive: {enabled: true, interval: 5m}
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
  recoveryTarget: {targetTime: "2026-05-01T12:00:00Z"}
${i % MISTAKE_EVERY === 0 ? '  backupID: x\n  backup: {name: oops}\n' : ''}`;
}

function generate(dir: string): number {
  const groups = Math.ceil(RESOURCES / 4);
  for (let f = 0; f * GROUPS_PER_FILE < groups; f++) {
    const docs = [];
    for (let i = f * GROUPS_PER_FILE; i < Math.min(groups, (f + 1) * GROUPS_PER_FILE); i++) docs.push(group(i));
    mkdirSync(join(dir, `team-${f % 10}`), { recursive: true });
    writeFileSync(join(dir, `team-${f % 10}`, `clusters-${f}.yaml`), docs.join('---\n'));
  }
  return groups * 4;
}

/** A process that only reads every file and parses it, with one of the two YAML libraries. */
function parseOnly(parse: string): string {
  return `
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const yaml = require(${JSON.stringify(join(PACKAGE_ROOT, 'node_modules', 'yaml'))});
const jsyaml = require(${JSON.stringify(join(PACKAGE_ROOT, 'node_modules', 'js-yaml'))});
let n = 0;
const walk = (d) => { for (const e of readdirSync(d, { withFileTypes: true })) {
  const p = join(d, e.name);
  if (e.isDirectory()) walk(p);
  else { const text = readFileSync(p, 'utf8'); ${parse} }
} };
walk(process.argv[1]);
`;
}

const BASELINES = {
  // What any checker that reports lines and columns pays if it parses with position-keeping nodes.
  'read + yaml parse (nodes)': parseOnly(
    'for (const d of yaml.parseAllDocuments(text, { lineCounter: new yaml.LineCounter() })) { d.toJS(); n++; }',
  ),
  // The floor: read and build plain values with the fastest parser, judge nothing.
  'read + js-yaml parse (values)': parseOnly('n += jsyaml.loadAll(text, null, { schema: jsyaml.CORE_SCHEMA }).length;'),
};

function timeRun(args: string[]): number {
  const start = process.hrtime.bigint();
  try {
    execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (err) {
    // check exits 1 on purpose: the generated set holds some denied Restores.
    if ((err as { status?: number }).status !== 1) throw err;
  }
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-'));
try {
  const count = generate(dir);
  const bin = join(PACKAGE_ROOT, 'dist', 'cmd', 'lifeboat.js');
  const times: Record<string, number[]> = { 'lifeboat check': [] };
  for (let r = 0; r < RUNS; r++) {
    for (const [label, script] of Object.entries(BASELINES)) (times[label] ??= []).push(timeRun(['-e', script, dir]));
    times['lifeboat check']?.push(timeRun([bin, 'check', '--format', 'json', dir]));
  }
  const files = Math.ceil(count / 4 / GROUPS_PER_FILE);
  console.log(
    `resources: ${count} in ${files} files, one Restore in ${MISTAKE_EVERY} with a mistake; ${RUNS} runs each, medians, whole process incl. Node start-up`,
  );
  const check = median(times['lifeboat check'] ?? []);
  for (const [label, runs] of Object.entries(times)) {
    const t = median(runs);
    const ratio = label === 'lifeboat check' ? '' : `  check/this = ${(check / t).toFixed(2)}x`;
    console.log(
      `${label.padEnd(30)} ${t.toFixed(3)} s  ${String(Math.round(count / t)).padStart(6)} resources/s${ratio}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

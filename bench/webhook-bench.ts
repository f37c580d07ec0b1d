// Lifeboat's admission webhook under load, beside a no-op handler in the same server setup
// (bench/webhook-bench-server.ts): AdmissionReviews over HTTPS keep-alive from this process, the
// server in a child of its own. Prints latency at a fixed rate and peak throughput, medians over
// alternating rounds, and the ratios against the goals. Checks every answer; times nothing else.
//   npm run bench:webhook [-- --rounds 3 --duration 10 --cpu-prof-dir /tmp/prof]
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import autocannon from 'autocannon';
import jsonPatch, { type Operation } from 'fast-json-patch';
import { parse } from 'yaml';
import { API_VERSION, GROUP, KIND_PLURALS, LABEL_CLUSTER, VERSION } from '../crds/api-constants.js';
import type { LifeboatKind } from '../crds/kinds.js';
import { PACKAGE_ROOT } from '../policies/cli/package-paths.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    rate: { type: 'string', default: '1000' },
    'rate-connections': { type: 'string', default: '10' },
    'peak-connections': { type: 'string', default: '16' },
    'log-level': { type: 'string', default: 'warn' },
    // Writes a .cpuprofile of each measured server child under DIR/noop and DIR/lifeboat.
    'cpu-prof-dir': { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const DURATION_S = Number(values.duration);
const WARMUP_S = Number(values.warmup);
const RATE = Number(values.rate);
const RATE_CONNECTIONS = Number(values['rate-connections']);
const PEAK_CONNECTIONS = Number(values['peak-connections']);
const GOAL_P99 = 1.5;
const GOAL_PEAK = 0.8;

type Mode = 'noop' | 'lifeboat';
const MODES: readonly Mode[] = ['noop', 'lifeboat'];

// ---- The scenario: a GitOps tool applying a namespace's backup objects -------------------------

interface Manifest {
  apiVersion: string;
  kind: LifeboatKind;
  metadata: { name: string; [field: string]: unknown };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const NS = 'shop';
const FLUX = 'kustomize-controller';
const GITOPS_LABELS = {
  'app.kubernetes.io/part-of': 'shop',
  'kustomize.toolkit.fluxcd.io/name': 'databases',
  'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
};

const sample = (file: string): Manifest =>
  parse(readFileSync(join(PACKAGE_ROOT, 'crds', 'samples', file), 'utf8')) as Manifest;

const manifest = (kind: LifeboatKind, name: string, spec: Record<string, unknown>): Manifest => ({
  apiVersion: API_VERSION,
  kind,
  metadata: { name },
  spec,
});

/** Server-side apply's record of who owns which field, which every applied object carries. */
function fieldsV1(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  return Object.fromEntries([['.', {}], ...Object.entries(value).map(([k, v]) => [`f:${k}`, fieldsV1(v)])]);
}

/** The object as the API server hands it to a mutating webhook on create: applied by Flux. */
function applied(m: Manifest): Manifest {
  const labels = { ...GITOPS_LABELS, ...(m.metadata['labels'] as object | undefined) };
  const managedFields = [
    {
      manager: FLUX,
      operation: 'Apply',
      apiVersion: API_VERSION,
      time: '2026-05-01T03:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1({ metadata: { labels }, spec: m.spec }),
    },
  ];
  return { ...m, metadata: { ...m.metadata, namespace: NS, labels, managedFields } };
}

/** …and as validating webhooks and later reads see it, with the fields storage adds. */
function created(m: Manifest, resourceVersion?: string): Manifest {
  const identity = { uid: randomUUID(), creationTimestamp: '2026-05-01T03:00:00Z', generation: 1, resourceVersion };
  return { ...m, metadata: { ...m.metadata, ...identity } };
}

const shop = created(applied(sample('2-cluster-standalone.yaml')), '1001');
const orders = created(applied(sample('2-cluster-galera.yaml')), '1002');
const shopStore = (shop.spec['backup'] as { objectStore: unknown }).objectStore;
const nightly: Manifest = {
  ...created(
    applied({
      ...manifest('Backup', 'shop-nightly-20260501030000', {
        cluster: { name: 'shop' },
        // Logical, so that a Restore into the running Cluster may name it (LB107).
        method: 'mariadb-dump',
        target: 'prefer-standby',
        online: true,
        objectStore: shopStore,
      }),
      metadata: { name: 'shop-nightly-20260501030000', labels: { [LABEL_CLUSTER]: 'shop' } },
    }),
    '1003',
  ),
  status: { phase: 'completed', startedAt: '2026-05-01T03:00:02Z', stoppedAt: '2026-05-01T03:04:40Z', size: 73400320 },
};

/** What the API server holds: the webhook's in-memory stand-in gets these. */
const WORLD: readonly Manifest[] = [shop, orders, nightly];

interface Case {
  readonly object: Manifest;
  /** UPDATE: the stored object. */
  readonly old?: Manifest;
  /** /mutate answers with a JSONPatch. */
  readonly patched: boolean;
  /** /validate denies, naming this policy; allowed when absent. */
  readonly deniedBy?: string;
  /** What the patched object must hold; a problem in words, or undefined. */
  readonly check?: (mutated: Manifest) => string | undefined;
}

const inheritsShopStore = (m: Manifest): string | undefined =>
  isDeepStrictEqual(m.spec['objectStore'], shopStore) ? undefined : "did not inherit the Cluster's objectStore";

// Ten objects, each sent to /mutate then /validate as the API server does: 20 reviews, 2 denied.
const CASES: readonly Case[] = [
  { object: applied(sample('3-backup.yaml')), patched: true, check: inheritsShopStore },
  {
    object: applied(manifest('Backup', 'shop-pre-upgrade', { cluster: { name: 'shop' }, target: 'shop-0' })),
    patched: true,
    check: inheritsShopStore,
  },
  {
    object: applied(manifest('Backup', 'orders-manual', { cluster: { name: 'orders' }, compression: 'zstd' })),
    patched: true,
  },
  { object: applied(sample('3-scheduled-backup.yaml')), patched: true },
  {
    object: applied(
      manifest('ScheduledBackup', 'orders-hourly', {
        schedule: '0 * * * *',
        backupTemplate: { cluster: { name: 'orders' } },
      }),
    ),
    patched: true,
  },
  { object: applied(sample('4-restore.yaml')), patched: true },
  {
    object: applied(
      manifest('Restore', 'shop-rollback', { cluster: { name: 'shop' }, backup: { name: nightly.metadata.name } }),
    ),
    patched: true,
  },
  {
    // A re-apply that changes retention: an UPDATE, after which the webhook forgets its cached Cluster.
    object: {
      ...shop,
      spec: { ...shop.spec, backup: { ...(shop.spec['backup'] as object), retention: { keep: 14 } } },
    },
    old: shop,
    patched: false,
  },
  {
    object: applied(
      manifest('ScheduledBackup', 'shop-every-minute', {
        schedule: '* * * * *',
        backupTemplate: { cluster: { name: 'shop' } },
      }),
    ),
    patched: true,
    deniedBy: 'LB505',
  },
  {
    object: applied(
      manifest('Restore', 'shop-rollback-typo', {
        cluster: { name: 'shop' },
        backup: { name: 'shop-nightly-2026050' },
      }),
    ),
    patched: true,
    deniedBy: 'LB602',
  },
];

const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, */*',
  'user-agent': 'kube-apiserver-admission',
};

function reviewBody(c: Case, object: Manifest, uid: string): string {
  const kind = { group: GROUP, version: VERSION, kind: object.kind };
  const resource = { group: GROUP, version: VERSION, resource: KIND_PLURALS[object.kind] };
  const operation = c.old ? 'UPDATE' : 'CREATE';
  const options = { apiVersion: 'meta.k8s.io/v1', kind: c.old ? 'UpdateOptions' : 'CreateOptions', fieldManager: FLUX };
  const userInfo = {
    username: `system:serviceaccount:flux-system:${FLUX}`,
    uid: '5b0f2f4e-1c1a-4d36-9a53-0c3c1f0c8a11',
    groups: ['system:serviceaccounts', 'system:serviceaccounts:flux-system', 'system:authenticated'],
  };
  const req = { uid, kind, resource, requestKind: kind, requestResource: resource, name: object.metadata.name };
  const rest = { namespace: NS, operation, userInfo, object, oldObject: c.old ?? null, dryRun: false, options };
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { ...req, ...rest } });
}

// ---- Server children ---------------------------------------------------------------------------

interface Stats {
  readonly cpuMicros: number;
  readonly requests: number;
}

interface Server {
  readonly port: number;
  readonly ca: string;
  /** The child's CPU time so far (all its threads) and the requests it has received. */
  stats(): Promise<Stats>;
  stop(): Promise<void>;
}

type Child = ChildProcessByStdio<Writable, Readable, null>;
const children = new Set<Child>();
const SERVER_SCRIPT = join(PACKAGE_ROOT, 'dist', 'bench', 'webhook-bench-server.js');

function killAll(): void {
  for (const { pid, exitCode } of children) if (pid !== undefined && exitCode === null) process.kill(pid, 'SIGKILL');
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}

async function stopChild(child: Child): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

/** The child's next stdout line; fails if it exits or stays silent for 30 s. */
function nextLine(child: Child, lines: AsyncIterator<string>, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => reject(new Error(`the ${what} server ${why}; see its stderr above`));
    const timer = setTimeout(() => fail('did not answer within 30 s'), 30_000);
    const onExit = (code: number | null): void => fail(`exited (${code})`);
    child.once('exit', onExit);
    lines.next().then(({ done, value }) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      if (done) fail('closed its stdout');
      else resolve(value);
    }, reject);
  });
}

async function startServer(mode: Mode, profile: boolean): Promise<Server> {
  const dir = values['cpu-prof-dir'];
  const prof = profile && dir ? ['--cpu-prof', '--cpu-prof-dir', join(dir, mode)] : [];
  const args = [...prof, SERVER_SCRIPT, '--mode', mode, '--log-level', values['log-level']];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  child.stdin.write(`${JSON.stringify(WORLD)}\n`);
  try {
    const { port, caCert } = JSON.parse(await nextLine(child, lines, mode)) as { port: number; caCert: string };
    const stats = async (): Promise<Stats> => {
      child.stdin.write('stats\n');
      return JSON.parse(await nextLine(child, lines, mode)) as Stats;
    };
    return { port, ca: caCert, stats, stop: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

// ---- The answers, checked once with the certificate verified ------------------------------------

interface Reviewed {
  readonly path: '/mutate' | '/validate';
  readonly uid: string;
  readonly body: string;
  readonly allowed: boolean;
}

interface Answer {
  readonly uid?: string;
  readonly allowed?: boolean;
  readonly patch?: string;
  readonly status?: { message?: string };
}

/** POSTs with certificate and host name checked against the server's CA, unlike the load below. */
function post(server: Server, path: string, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port: server.port, path: `${path}?timeout=5s`, method: 'POST' };
    const req = request({ ...options, ca: server.ca, headers: HEADERS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${path} answered ${res.statusCode}: ${text}`));
        else resolve((JSON.parse(text) as { response: Answer }).response);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Throws, naming the object and the endpoint, unless the answer is the one expected. */
function expectAnswer(c: Case, path: string, ok: boolean, expected: string, out: Answer): void {
  if (!ok)
    throw new Error(
      `${c.object.kind} ${c.object.metadata.name} at ${path}: expected ${expected}, got ${JSON.stringify(out)}`,
    );
}

async function mutateOnce(server: Server, c: Case, uid: string): Promise<Manifest> {
  const out = await post(server, '/mutate', reviewBody(c, c.object, uid));
  expectAnswer(c, '/mutate', out.uid === uid && out.allowed === true, `allowed with uid ${uid}`, out);
  expectAnswer(c, '/mutate', (out.patch !== undefined) === c.patched, c.patched ? 'a patch' : 'no patch', out);
  const ops = out.patch ? (JSON.parse(Buffer.from(out.patch, 'base64').toString()) as Operation[]) : [];
  const mutated = jsonPatch.applyPatch(structuredClone(c.object), ops).newDocument;
  const problem = c.check?.(mutated);
  expectAnswer(c, '/mutate', problem === undefined, `a patch that gives what it should (${problem})`, out);
  return mutated;
}

/** Each object through /mutate, its patch applied, then through /validate: the reviews to load with. */
async function checkAnswers(server: Server): Promise<Reviewed[]> {
  const reviewed: Reviewed[] = [];
  for (const c of CASES) {
    const [mutateUid, validateUid] = [randomUUID(), randomUUID()];
    const mutated = await mutateOnce(server, c, mutateUid);
    const body = reviewBody(c, c.old ? mutated : created(mutated), validateUid);
    const out = await post(server, '/validate', body);
    const verdict = c.deniedBy ? `a denial by ${c.deniedBy}` : 'allowed';
    const right = c.deniedBy ? out.status?.message?.startsWith(c.deniedBy) === true : true;
    expectAnswer(c, '/validate', out.uid === validateUid && out.allowed === !c.deniedBy && right, verdict, out);
    reviewed.push({ path: '/mutate', uid: mutateUid, body: reviewBody(c, c.object, mutateUid), allowed: true });
    reviewed.push({ path: '/validate', uid: validateUid, body, allowed: !c.deniedBy });
  }
  return reviewed;
}

// ---- Load ------------------------------------------------------------------------------------------

interface Figures {
  /** Answers per second over the whole run: at a fixed rate, whether the rate was kept. */
  readonly answered: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  /** autocannon's mean of its per-second counts. */
  readonly rps: number;
  /** CPU time per review, µs: the server child (all threads) and this process (the load). */
  readonly serverCpu: number;
  readonly clientCpu: number;
  /** Server CPU time over wall time: near 100% and the server's one event loop is the limit. */
  readonly serverBusy: number;
  readonly faults: { errors: number; non2xx: number; wrong: number };
}

interface Tally {
  wrong: number;
  example?: string;
}

/** The rotation, each answer checked: 200, this review's uid, and the verdict this mode gives. */
function loadRequests(reviewed: readonly Reviewed[], mode: Mode, tally: Tally): autocannon.Request[] {
  return reviewed.map((r) => {
    const verdict = `"allowed":${mode === 'noop' || r.allowed}`;
    return {
      method: 'POST',
      path: `${r.path}?timeout=5s`,
      headers: HEADERS,
      body: r.body,
      onResponse: (status: number, text: string): void => {
        if (status === 200 && text.includes(verdict) && text.includes(r.uid)) return;
        tally.wrong++;
        tally.example ??= `${r.path} ${status} ${text.slice(0, 200)}`;
      },
    };
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

interface Load {
  readonly connections: number;
  readonly seconds: number;
  readonly rate?: number;
}

function cannon(
  url: string,
  requests: autocannon.Request[],
  load: Load,
  latencies: number[],
): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const options: autocannon.Options = {
      url,
      connections: load.connections,
      pipelining: 1,
      duration: load.seconds,
      requests,
      ...(load.rate ? { overallRate: load.rate } : {}),
    };
    const instance = autocannon(options, (err: unknown, result) =>
      err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(result),
    );
    instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  });
}

async function fire(server: Server, mode: Mode, reviewed: readonly Reviewed[], load: Load): Promise<Figures> {
  const tally: Tally = { wrong: 0 };
  // Our own record, in fractional ms: autocannon's histogram keeps whole ms, and with a rate it adds
  // coordinated-omission fill-ins spaced ceil(1/rate) = 1 ms apart, not one request interval.
  const latencies: number[] = [];
  const before = { server: await server.stats(), client: process.cpuUsage(), wall: performance.now() };
  // autocannon connects with rejectUnauthorized: false whatever tlsOptions say (its
  // lib/httpClient.js): the certificate is verified by checkAnswers, before the load.
  const url = `https://127.0.0.1:${server.port}`;
  const result = await cannon(url, loadRequests(reviewed, mode, tally), load, latencies);
  const wallMs = performance.now() - before.wall;
  const client = process.cpuUsage(before.client);
  const after = await server.stats();
  if (tally.example) console.error(`${mode}: wrong answer, e.g. ${tally.example}`);
  latencies.sort((a, b) => a - b);
  const served = Math.max(1, after.requests - before.server.requests);
  const serverMicros = after.cpuMicros - before.server.cpuMicros;
  return {
    answered: latencies.length / result.duration,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    p999: percentile(latencies, 99.9),
    rps: result.requests.mean,
    serverCpu: serverMicros / served,
    clientCpu: (client.user + client.system) / served,
    serverBusy: serverMicros / 1000 / wallMs,
    faults: { errors: result.errors, non2xx: result.non2xx, wrong: tally.wrong },
  };
}

interface RoundResult {
  readonly fixed: Figures;
  readonly peak: Figures;
}

async function measure(mode: Mode, reviewed: readonly Reviewed[]): Promise<RoundResult> {
  const server = await startServer(mode, true);
  try {
    await fire(server, mode, reviewed, { connections: PEAK_CONNECTIONS, seconds: WARMUP_S });
    // autocannon keeps a rate per second: each connection sends its share back to back from the
    // start of each second, then waits. Arrivals come in bursts, so this latency includes queueing
    // at the server's full speed for part of every second; evenly spaced arrivals would queue less.
    const fixed = await fire(server, mode, reviewed, {
      connections: RATE_CONNECTIONS,
      seconds: DURATION_S,
      rate: RATE,
    });
    const peak = await fire(server, mode, reviewed, { connections: PEAK_CONNECTIONS, seconds: DURATION_S });
    return { fixed, peak };
  } finally {
    await server.stop();
  }
}

// ---- Report ----------------------------------------------------------------------------------------

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

type Cell = (r: RoundResult, faults: Figures['faults']) => string;
const ms = (x: number): string => x.toFixed(2);
const us = (x: number): string => `${x.toFixed(0)} µs`;

/** Column groups: a title over its columns, each a title, a width and how to fill it. */
const GROUPS: readonly (readonly [string, readonly (readonly [string, number, Cell])[]])[] = [
  [
    `at ${RATE} req/s, ${RATE_CONNECTIONS} connections`,
    [
      ['answered/s', 11, (r) => r.fixed.answered.toFixed(0)],
      ['p50 ms', 8, (r) => ms(r.fixed.p50)],
      ['p99 ms', 8, (r) => ms(r.fixed.p99)],
      ['p99.9 ms', 9, (r) => ms(r.fixed.p999)],
      ['server CPU', 11, (r) => us(r.fixed.serverCpu)],
    ],
  ],
  [
    `peak, ${PEAK_CONNECTIONS} connections`,
    [
      ['req/s', 8, (r) => r.peak.rps.toFixed(0)],
      ['p99 ms', 8, (r) => ms(r.peak.p99)],
      ['server CPU', 11, (r) => us(r.peak.serverCpu)],
      ['busy', 6, (r) => `${(r.peak.serverBusy * 100).toFixed(0)}%`],
      ['client CPU', 11, (r) => us(r.peak.clientCpu)],
    ],
  ],
  [
    'faults',
    [
      ['errors', 7, (_r, f) => String(f.errors)],
      ['non-2xx', 8, (_r, f) => String(f.non2xx)],
      ['wrong', 6, (_r, f) => String(f.wrong)],
    ],
  ],
];
const LABEL_WIDTH = 12;

function header(): string {
  const groups = GROUPS.map(([title, cols]) => {
    const width = cols.reduce((w, [, cw]) => w + cw, 0);
    const left = Math.floor((width - title.length - 2) / 2);
    return ` ${''.padEnd(left - 1, '-')} ${title} `.padEnd(width - 1, '-') + ' ';
  });
  const titles = GROUPS.flatMap(([, cols]) => cols.map(([title, width]) => title.padStart(width)));
  return `${''.padEnd(LABEL_WIDTH)}${groups.join('')}\n${''.padEnd(LABEL_WIDTH)}${titles.join('')}`;
}

function row(label: string, r: RoundResult, faults: Figures['faults']): string {
  const cells = GROUPS.flatMap(([, cols]) => cols.map(([, width, cell]) => cell(r, faults).padStart(width)));
  return `${label.padEnd(LABEL_WIDTH)}${cells.join('')}`;
}

function faultsOf(rs: readonly RoundResult[]): Figures['faults'] {
  const all = rs.flatMap((r) => [r.fixed.faults, r.peak.faults]);
  const sum = (pick: (f: Figures['faults']) => number): number => all.reduce((t, f) => t + pick(f), 0);
  return { errors: sum((f) => f.errors), non2xx: sum((f) => f.non2xx), wrong: sum((f) => f.wrong) };
}

type Phase = 'fixed' | 'peak';
type Measure = Exclude<keyof Figures, 'faults'>;
const MEASURES: readonly Measure[] = ['answered', 'p50', 'p99', 'p999', 'rps', 'serverCpu', 'clientCpu', 'serverBusy'];

/** Each figure's median over the rounds, taken on its own. */
function medianRound(rs: readonly RoundResult[]): RoundResult {
  const phase = (p: Phase): Figures => {
    const medians = Object.fromEntries(MEASURES.map((k) => [k, median(rs.map((r) => r[p][k]))]));
    return { ...(medians as Record<Measure, number>), faults: faultsOf(rs) };
  };
  return { fixed: phase('fixed'), peak: phase('peak') };
}

function summary(results: Record<Mode, RoundResult[]>): void {
  console.log(`\nmedians over ${ROUNDS} rounds (latencies in ms; faults summed)`);
  console.log(header());
  const med = { noop: medianRound(results.noop), lifeboat: medianRound(results.lifeboat) };
  for (const mode of MODES) console.log(row(mode, med[mode], faultsOf(results[mode])));
  const p99 = med.lifeboat.fixed.p99 / med.noop.fixed.p99;
  const peak = med.lifeboat.peak.rps / med.noop.peak.rps;
  const cpu = med.lifeboat.peak.serverCpu / med.noop.peak.serverCpu;
  const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log(`lifeboat/noop: p99 at ${RATE} req/s ${p99.toFixed(2)}x (goal <= ${GOAL_P99}x: ${met(p99 <= GOAL_P99)})`);
  console.log(`lifeboat/noop: peak req/s       ${peak.toFixed(2)}x (goal >= ${GOAL_PEAK}x: ${met(peak >= GOAL_PEAK)})`);
  const cpuAtRate = med.lifeboat.fixed.serverCpu / med.noop.fixed.serverCpu;
  console.log(
    `lifeboat/noop: server CPU per review ${cpuAtRate.toFixed(2)}x at ${RATE} req/s, ${cpu.toFixed(2)}x at peak`,
  );
  for (const mode of MODES) {
    const kept = med[mode].fixed.answered / RATE;
    if (kept < 0.95)
      console.log(`${mode} answered ${(100 * kept).toFixed(0)}% of ${RATE} req/s: the machine was saturated`);
  }
}

async function main(): Promise<void> {
  const checker = await startServer('lifeboat', false);
  const reviewed = await checkAnswers(checker).finally(() => checker.stop());
  const sizes = reviewed.map((r) => Buffer.byteLength(r.body));
  const denied = reviewed.filter((r) => !r.allowed).length;
  console.log(
    `node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg()[0]?.toFixed(2)}; ` +
      `${reviewed.length} AdmissionReviews in rotation (${denied} denied), ${Math.min(...sizes)}-${Math.max(...sizes)} bytes, ` +
      `answers checked; CPU is the server's (all threads) or this process's per review; ${DURATION_S} s per measurement after ${WARMUP_S} s warm-up; ${ROUNDS} rounds, modes alternated`,
  );
  console.log(header());
  const results: Record<Mode, RoundResult[]> = { noop: [], lifeboat: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const mode of MODES) {
      const result = await measure(mode, reviewed);
      results[mode].push(result);
      console.log(row(`${round} ${mode}`, result, faultsOf([result])));
    }
  }
  summary(results);
  console.log(`load average at the end ${loadavg()[0]?.toFixed(2)}`);
  const faults = faultsOf([...results.noop, ...results.lifeboat]);
  if (faults.errors + faults.non2xx + faults.wrong > 0) process.exitCode = 1;
}

try {
  await main();
} finally {
  killAll();
}

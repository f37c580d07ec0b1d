// Generators for the admission fuzz test: Lifeboat objects of the four kinds built from realistic
// fields and then broken on purpose, and the neighbours (Clusters, Backups, Secrets) the engine
// looks up. Every value is one JSON.parse could give: no undefined members, no null prototypes.
import * as fc from 'fast-check';
import type { PolicySettings } from '../../policies/policy-types.js';
import { decode } from '../../policies/schema-check.js';
import type { FakeWorld } from '../helpers.js';

type Doc = Record<string, unknown>;
type Path = readonly (string | number)[];

const API = 'lifeboat.dev/v1alpha1';
const NAMESPACES = ['default', 'shop', 'other'] as const;
const CLUSTER_NAMES = ['shop', 'orders'];
const SECRET_NAMES = ['shop-db', 'shop-s3', 'gone'];
const SECRET_KEYS = ['username', 'password', 'ACCESS_KEY_ID', 'SECRET_ACCESS_KEY', 'tls.crt', 'tls.key', 'ca.crt'];
const INSTANCES = ['shop-0', 'shop-1', 'orders-0', 'orders-1', 'orders-2'];
const PHASES = ['pending', 'running', 'completed', 'failed'];
/** Keys that reach Object.prototype when code assigns them instead of defining them. */
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];

// A self-signed P-256 certificate, so that LB206 also sees a bundle that parses.
const PEM = `-----BEGIN CERTIFICATE-----
MIIBfDCCASGgAwIBAgIUW1l/ioKTGTLqso3MVYhxLx75CoowCgYIKoZIzj0EAwIw
EjEQMA4GA1UEAwwHZnV6ei1jYTAgFw0yNjExMjIwNDIxNDdaGA8yMTI2MTAyOTA0
MjE0N1owEjEQMA4GA1UEAwwHZnV6ei1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABDqZ3uxGWrECuwjsQeOGtdMfXs/eS3lKB2RZ0rdkzTUWsBII+M16LFH1Ho1r
RNi7W3k/u6hq5LsR6NztYbaHDbqjUzBRMB0GA1UdDgQWBBTNjyKLN6xRKbH2cAeK
vA9eMSmT3DAfBgNVHSMEGDAWgBTNjyKLN6xRKbH2cAeKvA9eMSmT3DAPBgNVHRMB
Af8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQCtuRwkbZNyzdzs6u9vV5scUcZ5
iQBM1xMmnlIIxrHdXgIhAPIKTV8IW7DE8pp9Mlzu+OCAi2uZkXIPGy+UW0rx/r3W
-----END CERTIFICATE-----
`;

/** Mostly `usual`, sometimes a value the policies should object to. */
function mostly<T>(usual: fc.Arbitrary<T>, ...odd: fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  return fc.oneof({ weight: 4 * odd.length, arbitrary: usual }, ...odd);
}

/** Rarely a value the schema refuses: most objects should get past decoding to the policies. */
function rarely<T>(usual: fc.Arbitrary<T>, ...odd: fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  return fc.oneof({ weight: 30 * odd.length, arbitrary: usual }, ...odd);
}

// fast-check makes half of its records null-prototype objects; JSON.parse never does.
function rec<T, K extends keyof T = keyof T>(
  model: { [P in keyof T]: fc.Arbitrary<T[P]> },
  constraints: { requiredKeys?: K[] } = {},
): fc.Arbitrary<fc.RecordValue<T, K>> {
  return fc.record<T, K>(model, { ...constraints, noNullPrototype: true });
}

function dict<T>(key: fc.Arbitrary<string>, value: fc.Arbitrary<T>, constraints: { maxKeys?: number } = {}) {
  return fc.dictionary(key, value, { ...constraints, noNullPrototype: true });
}

/** The object without its undefined members, as JSON would carry it. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

// Strings ------------------------------------------------------------------------------------------

const hugeString = fc
  .tuple(fc.constantFrom('x', 'é', '😀', '\u0000', 'a/', '\ud800'), fc.integer({ min: 4097, max: 70_000 }))
  .map(([unit, n]) => unit.repeat(n));
const unicode = fc.string({ unit: 'binary', maxLength: 40 });
const dnsName = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?(\.[a-z0-9]{1,6})?$/);
const badName = fc.constantFrom(
  'Shop',
  '-shop',
  'shop-',
  'shop_db',
  'a..b',
  '',
  ' ',
  'ünï',
  'a'.repeat(254),
  '__proto__',
);

const objectName = rarely(mostly(fc.constantFrom(...CLUSTER_NAMES, ...INSTANCES, 'nightly', 'r1'), dnsName), badName);
const clusterName = rarely(mostly(fc.constantFrom(...CLUSTER_NAMES), dnsName), badName);
const secretName = mostly(fc.constantFrom(...SECRET_NAMES), dnsName);
const secretKey = mostly(fc.constantFrom(...SECRET_KEYS), fc.string({ minLength: 1, maxLength: 12 }));
const duration = rarely(
  fc.constantFrom('30d', '26h', '1h30m', '90s', '500ms', '1w', '0s'),
  fc.constantFrom('30 days', '1.5h', '-1d', '', 'P30D', '1y', '99999999999999999999999d'),
);
const rfc3339 = rarely(
  fc
    .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.constantFrom('2026-05-01T12:00:00+02:00', '2026-13-01T00:00:00Z', '2026-05-01 12:00:00', 'yesterday', ''),
);

// Cron ----------------------------------------------------------------------------------------------

/**
 * Cron expressions as people write them, typos included. A range end past the field's maximum
 * ("0-599") is a real typo, and node-cron expands a range into one number per step before it
 * checks bounds: `bigEnd` bounds what one case can cost, `bigWeight` (against 30) how often it comes.
 */
function cronSchedule(bigEnd: number, bigWeight: number): fc.Arbitrary<string> {
  const n = fc.oneof(
    { weight: 30, arbitrary: fc.integer({ min: 0, max: 70 }) },
    { weight: bigWeight, arbitrary: fc.integer({ min: 71, max: bigEnd }) },
  );
  const token = fc.oneof(
    fc.constantFrom('*', '?', 'L', 'mon', 'MON-FRI', 'jan', 'dec', 'sun', '5W', 'LW', 'L-3', '1#2', '7L', '*/0'),
    n.map(String),
    fc.tuple(n, n).map(([a, b]) => `${a}-${b}`),
    fc.tuple(n, n, fc.integer({ min: 0, max: 30 })).map(([a, b, step]) => `${a}-${b}/${step}`),
    fc.integer({ min: 0, max: 61 }).map((step) => `*/${step}`),
    fc.constantFrom('99999999999999999999', '-1', '1.5', '$', 'ä', '00000000007'),
  );
  const field = fc.array(token, { minLength: 1, maxLength: 3 }).map((tokens) => tokens.join(','));
  return fc.oneof(
    { weight: 6, arbitrary: fc.array(field, { minLength: 5, maxLength: 6 }).map((f) => f.join(' ')) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(field, { minLength: 1, maxLength: 8 }), fc.constantFrom(' ', '  ', '\t', ' \n '))
        .map(([fields, gap]) => fields.join(gap)),
    },
    { weight: 2, arbitrary: KNOWN_SCHEDULES },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  );
}

const KNOWN_SCHEDULES = fc.constantFrom(
  '0 3 * * *',
  '*/5 * * * *',
  '* * * * *',
  '*/1 * * * * *',
  '0 0 31 2 *',
  '@daily',
  '@hourly',
  ' @WEEKLY ',
  '@every 5m',
  '@reboot',
);

// Shapes shared by the kinds --------------------------------------------------------------------------

const secretKeyRef = rec({ name: secretName, key: secretKey });

const endpoint = mostly(
  fc.constantFrom('https://s3.example:9000', 'http://127.0.0.1:9000', ''),
  fc.constantFrom('ftp://x', 's3.local:9000', 'not a url', 'https://[::1]:9000', 'https://bücher.example', 'http://'),
  fc.webUrl(),
);

// Bundles near the 65536-character limit are rare: each costs ~100 certificate parses per review.
const caBundle = fc.oneof(
  { weight: 8, arbitrary: fc.constant(PEM) },
  { weight: 4, arbitrary: fc.constant(PEM + PEM) },
  {
    weight: 6,
    arbitrary: fc
      .string({ maxLength: 60 })
      .map((s) => `-----BEGIN CERTIFICATE-----\n${s}\n-----END CERTIFICATE-----\n`),
  },
  { weight: 6, arbitrary: fc.base64String({ maxLength: 80 }) },
  // Many blocks, the last one unterminated; some past the limit.
  {
    weight: 4,
    arbitrary: fc
      .oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 5 }) }, fc.integer({ min: 96, max: 100 }))
      .map((n) => `${PEM}-----BEGIN CERTIFICATE-----\n`.repeat(n)),
  },
);

const objectStore = rec(
  {
    bucket: mostly(
      fc.constantFrom('backups', 'lifeboat', 'my-backups.eu'),
      fc.constantFrom('ab', 'Bad_Bucket', '192.168.0.1', 'a..b', '-x', 'a'.repeat(63), 'a'.repeat(64)),
    ),
    path: mostly(fc.constantFrom('backups', 'prod/eu-1', ''), fc.constantFrom('/abs', 'a/../b', 'a//b', 'a\\b', '.')),
    endpoint,
    region: fc.constantFrom('eu-west-1', 'us-east-1', ''),
    forcePathStyle: fc.boolean(),
    signatureVersion: fc.constantFrom('v4', 'v2'),
    tls: rec({ caBundle, caSecretRef: secretKeyRef, insecureSkipVerify: fc.boolean() }, { requiredKeys: [] }),
    insecure: fc.boolean(),
    serverSideEncryption: rec(
      { type: fc.constantFrom('AES256', 'aws:kms'), kmsKeyID: fc.constantFrom('arn:aws:kms:k', '') },
      { requiredKeys: ['type'] },
    ),
    storageClass: fc.constantFrom('STANDARD_IA', 'GLACIER'),
    objectLock: rec({
      mode: fc.constantFrom('GOVERNANCE', 'COMPLIANCE'),
      days: rarely(fc.integer({ min: 1, max: 36_500 }), fc.constantFrom(0, -1, 36_501)),
    }),
    credentials: rec(
      { accessKeyId: secretKeyRef, secretAccessKey: secretKeyRef, sessionToken: secretKeyRef },
      { requiredKeys: ['accessKeyId', 'secretAccessKey'] },
    ),
    inheritFromIAMRole: fc.boolean(),
  },
  { requiredKeys: ['bucket'] },
);

const recoveryFields = {
  backup: rec({ name: objectName }),
  source: mostly(fc.constantFrom(...CLUSTER_NAMES, 'old'), fc.constant('')),
  backupID: fc.constantFrom('20260501T030000Z', ''),
  recoveryTarget: rec(
    { targetTime: rfc3339, targetGTID: fc.constantFrom('0-1-4711', ''), targetImmediate: fc.boolean() },
    { requiredKeys: [] },
  ),
};

const backupSpec = rec(
  {
    cluster: rec({ name: clusterName }),
    method: rarely(fc.constantFrom('mariabackup', 'xtrabackup', 'mysqldump', 'mariadb-dump'), fc.constant('pg_dump')),
    target: mostly(fc.constantFrom('prefer-standby', 'primary', ...INSTANCES), fc.string({ maxLength: 12 })),
    online: fc.boolean(),
    objectStore,
    allowUnsafe: fc.boolean(),
    compression: fc.constantFrom('none', 'gzip', 'zstd'),
  },
  { requiredKeys: ['cluster'] },
);

const metadata = rec(
  {
    name: objectName,
    generateName: fc.constantFrom('shop-', 'x'),
    namespace: fc.constantFrom(...NAMESPACES),
    labels: dict(fc.constantFrom('app', 'lifeboat.dev/cluster', '__proto__', 'ü'), dnsName, {
      maxKeys: 2,
    }),
    annotations: dict(
      fc.constantFrom('lifeboat.dev/unsafe-reason', 'note'),
      fc.constantFrom('galera node 2 is down; ticket OPS-1', '   ', ''),
      { maxKeys: 2 },
    ),
    resourceVersion: fc.constantFrom('1', '42'),
    uid: fc.uuid(),
  },
  { requiredKeys: [] },
)
  // Mostly named: a manifest with neither name nor generateName is one of the breakages below.
  .map((m) => (m.name === undefined && m.generateName === undefined ? { ...m, name: 'shop' } : m));

function resource(kind: string, spec: fc.Arbitrary<unknown>, status?: fc.Arbitrary<unknown>): fc.Arbitrary<Doc> {
  const statusArb = status ?? fc.constant(undefined);
  return fc
    .tuple(metadata, spec, fc.option(statusArb, { freq: 3, nil: undefined }))
    .map(([meta, s, st]) => ({ apiVersion: API, kind, metadata: meta, spec: s, ...(st ? { status: st } : {}) }));
}

const phaseStatus = rec({ phase: fc.constantFrom(...PHASES) }, { requiredKeys: [] });

// The four kinds ---------------------------------------------------------------------------------------

const staticInstance = rec(
  {
    name: mostly(fc.constantFrom(...INSTANCES), fc.string({ maxLength: 8 })),
    host: rarely(fc.constantFrom('127.0.0.1', 'db.shop.svc'), fc.constant('')),
    port: rarely(fc.integer({ min: 1, max: 65_535 }), fc.constantFrom(0, 65_536, -1)),
  },
  { requiredKeys: ['name', 'host'] },
);

const instances = fc.oneof(
  { weight: 4, arbitrary: fc.array(staticInstance, { minLength: 1, maxLength: 4 }).map((s) => ({ static: s })) },
  { weight: 2, arbitrary: rec({ selector: rec({ matchLabels: fc.constant({ app: 'db' }) }) }) },
  { weight: 1, arbitrary: fc.constantFrom({}, { static: [] }, { selector: {}, static: [{ name: 'a', host: 'b' }] }) },
);

const clusterSpec = rec(
  {
    engine: fc.constantFrom('mariadb', 'mysql', 'percona-xtradb'),
    version: mostly(fc.constantFrom('10.11', '10.2', '11.4', '8.0', '5.7'), fc.constantFrom('abc', '')),
    topology: fc.constantFrom('standalone', 'replication', 'galera'),
    instances,
    credentials: rec(
      { secretRef: rec({ name: secretName }), usernameKey: secretKey, passwordKey: secretKey },
      { requiredKeys: ['secretRef'] },
    ),
    backup: rec(
      {
        objectStore,
        method: fc.constantFrom('mariabackup', 'xtrabackup', 'mysqldump', 'mariadb-dump'),
        target: mostly(fc.constantFrom('prefer-standby', 'primary', ...INSTANCES), fc.constant('nowhere')),
        retention: rec(
          { keep: mostly(fc.integer({ min: 1, max: 30 }), fc.constantFrom(0, -3)), maxAge: duration },
          { requiredKeys: [] },
        ),
        binlogArchive: rec({ enabled: fc.boolean(), interval: duration }, { requiredKeys: ['enabled'] }),
        rpo: duration,
      },
      { requiredKeys: [] },
    ),
    bootstrap: rec({ recovery: rec(recoveryFields, { requiredKeys: [] }) }, { requiredKeys: [] }),
    externalClusters: fc.array(
      rec({ name: fc.constantFrom(...CLUSTER_NAMES, 'old'), objectStore }, { requiredKeys: ['name'] }),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: ['engine', 'topology', 'instances', 'credentials'] },
);

const clusterDoc = resource('Cluster', clusterSpec);
const backupDoc = resource('Backup', backupSpec, phaseStatus);
/** A ScheduledBackup whose schedule comes from `schedule`. */
function scheduledBackupDocWith(schedule: fc.Arbitrary<string>): fc.Arbitrary<Doc> {
  return resource(
    'ScheduledBackup',
    rec(
      {
        schedule,
        timeZone: mostly(fc.constantFrom('UTC', 'Europe/Berlin'), fc.constantFrom('Mars/Olympus', '', '+01:00')),
        suspend: fc.boolean(),
        immediate: fc.boolean(),
        concurrencyPolicy: fc.constantFrom('Forbid', 'Allow', 'Replace'),
        startingDeadlineSeconds: rarely(fc.nat(), fc.constant(-1)),
        backupTemplate: backupSpec,
      },
      { requiredKeys: ['schedule', 'backupTemplate'] },
    ),
  );
}

// Range ends up to 10^5 cost node-cron ~70 ms: out of range, yet well inside the answer budget.
const scheduledBackupDoc = scheduledBackupDocWith(cronSchedule(100_000, 1));

const restoreDoc = resource(
  'Restore',
  rec(
    { cluster: rec({ name: clusterName }), ...recoveryFields, overwrite: fc.boolean() },
    { requiredKeys: ['cluster'] },
  ),
  phaseStatus,
);

// Breakage ---------------------------------------------------------------------------------------------

/** A value that does not belong where it lands. */
const strangeValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, true, false, 0, -1, 1.5, 65_536, 1e308, 2 ** 53 + 2, '', ' ', 'yes', '10.11', [], {}),
  hugeString,
  unicode,
  fc.tuple(fc.integer({ min: 10, max: 1000 }), fc.boolean()).map(([depth, asList]) => nest(depth, asList)),
  fc.constantFrom(...PROTO_KEYS).map((key) => JSON.parse(`{"${key}": {"polluted": true}, "x": 1}`) as unknown),
);

function nest(depth: number, asList: boolean): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = asList ? [value] : { a: value };
  return value;
}

type Mutation =
  | { readonly op: 'delete'; readonly at: number }
  | { readonly op: 'set'; readonly at: number; readonly value: unknown }
  | { readonly op: 'add'; readonly at: number; readonly key: string; readonly value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  rec({ op: fc.constant('delete' as const), at: fc.nat() }),
  rec({ op: fc.constant('set' as const), at: fc.nat(), value: strangeValue }),
  rec({
    op: fc.constant('add' as const),
    at: fc.nat(),
    key: mostly(fc.constantFrom('extra', 'Spec', 'status'), fc.constantFrom(...PROTO_KEYS), unicode),
    value: strangeValue,
  }),
);

const mutations = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Mutation[]>([]) },
  { weight: 1, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) },
);

function isContainer(value: unknown): value is Record<string | number, unknown> {
  return typeof value === 'object' && value !== null;
}

interface Site {
  readonly value: unknown;
  readonly parent?: Record<string | number, unknown>;
  readonly key?: string | number;
}

/** Every value inside a document, parents first, down to a depth that generated values do not reach. */
function sitesOf(value: unknown, out: Site[] = [{ value }], depth = 0): Site[] {
  if (!isContainer(value) || depth >= 8) return out;
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  for (const key of keys) {
    out.push({ value: value[key], parent: value, key });
    sitesOf(value[key], out, depth + 1);
  }
  return out;
}

function at(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, key) => (isContainer(node) ? node[key] : undefined), root);
}

/** Defines rather than assigns, so that `__proto__` becomes a key, as JSON.parse makes it. */
function put(node: Record<string | number, unknown>, key: string | number, value: unknown): void {
  Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });
}

function applyOne(doc: Doc, m: Mutation): void {
  const sites = sitesOf(doc);
  if (m.op === 'add') {
    const objects = sites.filter((site) => isContainer(site.value) && !Array.isArray(site.value));
    const target = objects[m.at % objects.length]?.value;
    if (isContainer(target)) put(target, m.key, structuredClone(m.value));
    return;
  }
  const { parent, key } = sites[1 + (m.at % Math.max(1, sites.length - 1))] ?? {};
  if (!parent || key === undefined) return;
  if (m.op === 'set') put(parent, key, structuredClone(m.value));
  else if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else delete parent[key];
}

function mutate(doc: Doc, ms: readonly Mutation[]): Doc {
  if (ms.length === 0) return doc;
  const out = structuredClone(doc);
  for (const m of ms) applyOne(out, m);
  return out;
}

/** A Lifeboat object of one of the four kinds, realistic, then possibly broken. */
const lifeboatDoc: fc.Arbitrary<Doc> = fc
  .tuple(fc.oneof(clusterDoc, backupDoc, scheduledBackupDoc, restoreDoc), mutations)
  .map(([doc, ms]) => mutate(doc, ms));

/** What a request's object may be: mostly ours, sometimes anything at all. */
export const anyDocument: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 12, arbitrary: lifeboatDoc },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } },
      { apiVersion: 'lifeboat.dev/v1', kind: 'Backup', metadata: { name: 'x' }, spec: {} },
      { apiVersion: API, kind: 'Widget', metadata: { name: 'x' } },
      { apiVersion: API, metadata: { name: 'x' } },
    ),
  },
);

// Neighbours and settings --------------------------------------------------------------------------------

/** Only schema-valid objects: what the API (or a folder that passed its schema check) holds. */
export const world: fc.Arbitrary<FakeWorld> = fc
  .record({
    authoritative: fc.boolean(),
    secretsListed: fc.boolean(),
    objects: fc.array(fc.oneof(clusterDoc, clusterDoc, backupDoc), { maxLength: 4 }),
    secrets: dict(
      fc.tuple(fc.constantFrom(...NAMESPACES), fc.constantFrom(...SECRET_NAMES)).map(([ns, n]) => `${ns}/${n}`),
      rec({ keys: fc.subarray(SECRET_KEYS), anyKey: fc.boolean() }, { requiredKeys: ['keys'] }),
      { maxKeys: 4 },
    ),
  })
  .map((w) => ({ ...w, objects: w.objects.filter((o) => decode(o).type === 'lifeboat') }));

export const settings: fc.Arbitrary<PolicySettings> = rec({
  minScheduleIntervalSeconds: fc.constantFrom(0, 60, 300, 3600, 172_800),
  defaultNamespace: fc.constantFrom(...NAMESPACES),
});

/** The stored object an UPDATE is judged against: a variant of the new one, another object, or junk. */
export type OldPlan =
  | { readonly type: 'none' }
  | { readonly type: 'variant'; readonly phase?: string; readonly mutations: Mutation[] }
  | { readonly type: 'other'; readonly doc: unknown };

export const oldPlan: fc.Arbitrary<OldPlan> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ type: 'none' as const }) },
  {
    weight: 4,
    arbitrary: rec(
      {
        type: fc.constant('variant' as const),
        phase: fc.constantFrom(...PHASES),
        mutations: fc.array(mutation, { maxLength: 2 }),
      },
      { requiredKeys: ['type', 'mutations'] },
    ),
  },
  { weight: 2, arbitrary: rec({ type: fc.constant('other' as const), doc: anyDocument }) },
);

export function oldObjectFor(plan: OldPlan, doc: unknown): unknown {
  if (plan.type === 'none') return undefined;
  if (plan.type === 'other') return plan.doc;
  if (!isContainer(doc) || Array.isArray(doc)) return doc;
  const status = isContainer(doc['status']) ? doc['status'] : {};
  const withPhase = plan.phase === undefined ? doc : { ...doc, status: { ...status, phase: plan.phase } };
  return mutate(withPhase, plan.mutations);
}

// AdmissionReview requests -----------------------------------------------------------------------------

export interface AdmissionCase {
  readonly body: Doc;
  readonly world: FakeWorld;
  readonly settings: PolicySettings;
}

const SERVED = new Set(['Cluster', 'Backup', 'ScheduledBackup', 'Restore']);
const foreignKind = fc.constantFrom(
  { group: '', version: 'v1', kind: 'ConfigMap' },
  { group: 'lifeboat.dev', version: 'v1alpha1', kind: 'Widget' },
  { group: 'lifeboat.dev', version: 'v1', kind: 'Backup' },
);
const operation = fc.oneof(
  { weight: 4, arbitrary: fc.constant('CREATE') },
  { weight: 4, arbitrary: fc.constant('UPDATE') },
  { weight: 1, arbitrary: fc.constant('DELETE') },
  { weight: 1, arbitrary: fc.constant('CONNECT') },
);
const uid = fc.oneof(fc.uuid(), fc.string({ unit: 'binary', minLength: 1, maxLength: 128 }));

function kindOf(doc: unknown): string {
  const kind = isContainer(doc) ? doc['kind'] : undefined;
  return typeof kind === 'string' && SERVED.has(kind) ? kind : 'Backup';
}

/** A well-formed review (as the API server sends it) of a generated object. */
function admissionCaseOf(document: fc.Arbitrary<unknown>): fc.Arbitrary<AdmissionCase> {
  return fc
    .record({
      uid,
      kind: fc.option(foreignKind, { freq: 8, nil: undefined }),
      namespace: fc.option(fc.constantFrom(...NAMESPACES), { freq: 4, nil: undefined }),
      operation,
      doc: document,
      old: oldPlan,
      dryRun: fc.option(fc.boolean(), { nil: undefined }),
      objectOnDelete: fc.boolean(),
      world,
      settings,
    })
    .map((c) => {
      const object = c.operation !== 'DELETE' ? c.doc : c.objectOnDelete ? c.doc : null;
      const oldObject =
        c.operation === 'UPDATE' ? oldObjectFor(c.old, c.doc) : c.operation === 'DELETE' ? c.doc : undefined;
      const request = defined({
        uid: c.uid,
        kind: c.kind ?? { group: 'lifeboat.dev', version: 'v1alpha1', kind: kindOf(c.doc) },
        namespace: c.namespace,
        operation: c.operation,
        object,
        oldObject,
        dryRun: c.dryRun,
      });
      return { body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request }, ...c };
    });
}

export const admissionCase = admissionCaseOf(anyDocument);

/**
 * A new ScheduledBackup that differs only in its schedule, with range ends up to 3·10^6 (~2 s each
 * in node-cron today) and often: for the time-budget property, which shrinks to the schedule alone.
 */
export const scheduleCase: fc.Arbitrary<AdmissionCase> = cronSchedule(3_000_000, 10).map((schedule) => ({
  body: {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: 'lifeboat.dev', version: 'v1alpha1', kind: 'ScheduledBackup' },
      namespace: 'shop',
      operation: 'CREATE',
      object: {
        apiVersion: API,
        kind: 'ScheduledBackup',
        metadata: { name: 'nightly' },
        spec: { schedule, backupTemplate: { cluster: { name: 'shop' } } },
      },
    },
  },
  world: { authoritative: true, objects: [] },
  settings: { minScheduleIntervalSeconds: 300, defaultNamespace: 'shop' },
}));

// Broken envelopes: each field kept, dropped, of the wrong type or of a wrong value -----------------------

type JsonType = 'string' | 'object' | 'boolean' | 'any';
interface Wrong {
  readonly value: unknown;
  /** Whether the envelope is no longer a valid AdmissionReview. */
  readonly breaks: boolean;
}
type Corruption =
  { readonly how: 'keep' } | { readonly how: 'drop'; readonly breaks: boolean } | ({ readonly how: 'set' } & Wrong);

interface FieldRule {
  readonly path: readonly string[];
  readonly required: boolean;
  readonly type: JsonType;
  readonly wrong?: fc.Arbitrary<Wrong>;
}

const bad = (...values: unknown[]): fc.Arbitrary<Wrong> =>
  fc.constantFrom(...values).map((value) => ({ value, breaks: true }));
const fine = (...values: unknown[]): fc.Arbitrary<Wrong> =>
  fc.constantFrom(...values).map((value) => ({ value, breaks: false }));

const FIELD_RULES: readonly FieldRule[] = [
  {
    path: ['apiVersion'],
    required: true,
    type: 'string',
    wrong: bad(
      'admission.k8s.io/v1beta1',
      'admission.k8s.io/v2',
      '',
      'v1',
      'ADMISSION.K8S.IO/V1',
      'admission.k8s.io/v1 ',
    ),
  },
  {
    path: ['kind'],
    required: true,
    type: 'string',
    wrong: bad('AdmissionReviewList', 'admissionreview', '', 'Review'),
  },
  { path: ['request'], required: true, type: 'object' },
  {
    path: ['request', 'uid'],
    required: true,
    type: 'string',
    wrong: fc.oneof(
      bad('', 'u'.repeat(129)),
      hugeString.map((value) => ({ value, breaks: true })),
      fine('u'.repeat(128), '😀'.repeat(128), '\u0000', ' '),
    ),
  },
  {
    path: ['request', 'kind'],
    required: true,
    type: 'object',
    wrong: fc.oneof(
      foreignKind.map((value) => ({ value, breaks: false })),
      bad({ kind: 'Backup' }, { group: 1, version: 'v1', kind: 'X' }, { group: '', version: 'v1' }),
    ),
  },
  {
    path: ['request', 'namespace'],
    required: false,
    type: 'string',
    wrong: fine('', 'kube-system', 'Not_A_Namespace'),
  },
  { path: ['request', 'name'], required: false, type: 'string', wrong: fine('', '__proto__') },
  {
    path: ['request', 'operation'],
    required: true,
    type: 'string',
    wrong: fc.oneof(bad('PATCH', 'create', '', 'DELETE ', 'GET'), fine('CONNECT', 'DELETE')),
  },
  { path: ['request', 'object'], required: false, type: 'any' },
  { path: ['request', 'oldObject'], required: false, type: 'any' },
  { path: ['request', 'dryRun'], required: false, type: 'boolean' },
];

const valuesOfType: Readonly<Record<Exclude<JsonType, 'any'>, fc.Arbitrary<unknown>>> = {
  string: fc.string({ maxLength: 20 }),
  object: dict(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
  boolean: fc.boolean(),
};
const otherValues = [
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
];

function wrongType(type: JsonType): fc.Arbitrary<Wrong> {
  if (type === 'any') return anyDocument.map((value) => ({ value, breaks: false }));
  const others = Object.entries(valuesOfType)
    .filter(([t]) => t !== type)
    .map(([, arb]) => arb);
  return fc.oneof(...others, ...otherValues).map((value) => ({ value, breaks: true }));
}

function corruption(rule: FieldRule): fc.Arbitrary<Corruption> {
  const options: fc.WeightedArbitrary<Corruption>[] = [
    { weight: 12, arbitrary: fc.constant({ how: 'keep' as const }) },
    { weight: 1, arbitrary: fc.constant({ how: 'drop' as const, breaks: rule.required }) },
    { weight: 1, arbitrary: wrongType(rule.type).map((w) => ({ how: 'set' as const, ...w })) },
  ];
  if (rule.wrong) options.push({ weight: 2, arbitrary: rule.wrong.map((w) => ({ how: 'set' as const, ...w })) });
  return fc.oneof(...options);
}

const extraKey = rec({
  inRequest: fc.boolean(),
  key: fc.constantFrom('extra', 'userInfo', 'options', ...PROTO_KEYS),
  value: fc.jsonValue({ maxDepth: 2 }),
});

export interface EnvelopeCase {
  readonly body: unknown;
  /** Whether some applied change makes the body no AdmissionReview. */
  readonly breaks: boolean;
}

function corrupt(body: Doc, corruptions: readonly Corruption[]): boolean {
  let breaks = false;
  FIELD_RULES.forEach((rule, i) => {
    const c = corruptions[i];
    const parent = at(body, rule.path.slice(0, -1));
    const key = rule.path[rule.path.length - 1] ?? '';
    // A field inside a request that is gone or no object any more cannot be changed on its own.
    if (!c || c.how === 'keep' || !isContainer(parent) || Array.isArray(parent)) return;
    if (c.how === 'drop') delete parent[key];
    else put(parent, key, structuredClone(c.value));
    breaks ||= c.breaks;
  });
  return breaks;
}

export const envelopeCase: fc.Arbitrary<EnvelopeCase & { world: FakeWorld; settings: PolicySettings }> = fc
  .record({
    base: admissionCase,
    corruptions: fc.tuple(...FIELD_RULES.map(corruption)),
    extras: fc.array(extraKey, { maxLength: 2 }),
  })
  .map(({ base, corruptions, extras }) => {
    const body = structuredClone(base.body);
    for (const extra of extras) {
      const target = extra.inRequest ? body['request'] : body;
      if (isContainer(target)) put(target, extra.key, extra.value);
    }
    const breaks = corrupt(body, corruptions);
    return { body, breaks, world: base.world, settings: base.settings };
  });

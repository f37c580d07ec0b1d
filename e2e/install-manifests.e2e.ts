// The install manifests (deploy/kustomize, deploy/helm/lifeboat) with the stack's API server and
// the tools hack/tools.sh builds: the chart with default values renders the same objects as the
// kustomize tree, both pass kubeconform -strict against schemas made from this API server's
// OpenAPI and the repository's CRDs, and the API server accepts both in a server-side dry run.
// Nothing is stored: a failurePolicy Fail webhook configuration pointing at a Service that does
// not exist would block Lifeboat writes for everyone using the stack.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import {
  kubeconformLocation,
  kubeconformSchemas,
  schemaInputsDigest,
  writeKubeconformSchemas,
  type CrdDocument,
  type OpenApiV2,
} from '../cmd/generate-kube-schemas.js';
import { createNamespace, kubectl, kubectlOk, type TestNamespace } from './support/kube.js';
import { kubectlPath, REPO_ROOT } from './support/stack.js';

const NAMESPACE = 'lifeboat-system';
const CHART = join(REPO_ROOT, 'deploy', 'helm', 'lifeboat');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], options: { path?: string; timeoutMs?: number } = {}): Run {
  const env = options.path ? { ...process.env, PATH: `${options.path}:${process.env['PATH'] ?? ''}` } : process.env;
  const res = spawnSync(command, args, {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.error) throw new Error(`${command} ${args.join(' ')}: ${res.error.message}`);
  return { status: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}

function runOk(command: string, args: readonly string[], options: { path?: string; timeoutMs?: number } = {}): string {
  const res = run(command, args, options);
  assert.equal(res.status, 0, `${command} ${args.join(' ')} exited ${res.status}: ${res.stderr.trim()}`);
  return res.stdout;
}

function objectsOf(yamlText: string): Manifest[] {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJS() as Manifest | null)
    .filter((o): o is Manifest => o !== null);
}

const idOf = (o: Manifest): string => `${o.apiVersion} ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;

function byId(objects: readonly Manifest[]): Map<string, Manifest> {
  const map = new Map<string, Manifest>();
  for (const o of objects) {
    assert.ok(!map.has(idOf(o)), `${idOf(o)} is rendered once`);
    map.set(idOf(o), o);
  }
  return map;
}

/** Same objects, field for field (YAML comments, order of documents and of keys aside). */
function assertSameObjects(helm: readonly Manifest[], kustomize: readonly Manifest[]): void {
  const h = byId(helm);
  const k = byId(kustomize);
  assert.deepEqual([...h.keys()].sort(), [...k.keys()].sort(), 'the same objects');
  for (const [id, object] of k) assert.deepEqual(h.get(id), object, `${id} is the same in both`);
}

/** `kubectl kustomize` of a kustomization made for the test: `resources` and `namespace`. */
function kustomizeOf(dir: string, resources: readonly string[], namespace?: string): Manifest[] {
  mkdirSync(dir, { recursive: true });
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    ...(namespace ? { namespace } : {}),
    resources: resources.map((r) => relative(dir, join(REPO_ROOT, r))),
  };
  writeFileSync(join(dir, 'kustomization.yaml'), stringify(kustomization));
  return objectsOf(kubectlOk(['kustomize', dir]));
}

const kustomizeTree = (tree: string): Manifest[] =>
  objectsOf(kubectlOk(['kustomize', join(REPO_ROOT, 'deploy', 'kustomize', tree)]));

describe('install manifests: kustomize and the Helm chart, validated', function () {
  // A cold build of helm takes minutes; a warm one is a file check.
  this.timeout(30 * 60_000);
  let tools = '';
  let schemas = '';
  let scratch = '';
  let version = '';
  let helm: (args: readonly string[]) => Manifest[];
  let ns: TestNamespace | undefined;

  before(function () {
    runOk('bash', ['hack/tools.sh', 'build'], { timeoutMs: 30 * 60_000 });
    tools = runOk('bash', ['hack/tools.sh', 'bin-dir']).trim();
    helm = (args) =>
      objectsOf(runOk('helm', ['template', 'lifeboat', CHART, '--include-crds', ...args], { path: tools }));

    // Schemas for the server's version and the repository's CRDs, made once and cached.
    version = (JSON.parse(kubectlOk(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } })
      .serverVersion.gitVersion;
    const crdFiles = readdirSync(join(REPO_ROOT, 'crds'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => readFileSync(join(REPO_ROOT, 'crds', f), 'utf8'));
    const cache = process.env['LIFEBOAT_CACHE'] ?? join(homedir(), '.cache', 'lifeboat');
    schemas = join(cache, `kubeconform-schemas-${version}-${schemaInputsDigest(...crdFiles)}`);
    writeKubeconformSchemas(schemas, version, () =>
      kubeconformSchemas(
        // About 2 MB: more than kubectl()'s output buffer.
        JSON.parse(runOk(kubectlPath(), ['get', '--raw', '/openapi/v2'])) as OpenApiV2,
        crdFiles.map((text) => parse(text) as CrdDocument),
      ),
    );
    scratch = mkdtempSync(join(tmpdir(), 'lifeboat-install-'));
  });

  after(function () {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  afterEach(async function () {
    await ns?.cleanup();
    ns = undefined;
  });

  function kubeconform(objects: readonly Manifest[], extra: readonly string[] = []): Run {
    const file = join(scratch, 'objects.yaml');
    writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
    return run(
      'kubeconform',
      [
        '-strict',
        '-summary',
        '-kubernetes-version',
        version.replace(/^v/, ''),
        '-schema-location',
        kubeconformLocation(schemas),
        ...extra,
        file,
      ],
      { path: tools },
    );
  }

  it('the chart with default values renders the objects of deploy/kustomize/self-signed, field for field', function () {
    const fromHelm = helm([]);
    const fromKustomize = kustomizeTree('self-signed');
    assertSameObjects(fromHelm, fromKustomize);
    // What both install: the CRDs, the webhook (self-signed TLS) and the runner, and no worker namespace.
    const kinds = fromKustomize.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(kinds, [
      'ClusterRole/lifeboat-runner',
      'ClusterRole/lifeboat-runner-namespace',
      'ClusterRole/lifeboat-webhook',
      'ClusterRole/lifeboat-webhook-self-signed',
      'ClusterRole/lifeboat-worker',
      'ClusterRoleBinding/lifeboat-runner',
      'ClusterRoleBinding/lifeboat-webhook',
      'ClusterRoleBinding/lifeboat-webhook-self-signed',
      'CustomResourceDefinition/backups.lifeboat.dev',
      'CustomResourceDefinition/clusters.lifeboat.dev',
      'CustomResourceDefinition/restores.lifeboat.dev',
      'CustomResourceDefinition/scheduledbackups.lifeboat.dev',
      'Deployment/lifeboat-runner',
      'Deployment/lifeboat-webhook',
      'MutatingWebhookConfiguration/lifeboat',
      'Namespace/lifeboat-system',
      'NetworkPolicy/lifeboat-webhook',
      'PodDisruptionBudget/lifeboat-runner',
      'PodDisruptionBudget/lifeboat-webhook',
      'Role/lifeboat-runner-leader',
      'Role/lifeboat-webhook-tls',
      'RoleBinding/lifeboat-runner-leader',
      'RoleBinding/lifeboat-webhook-tls',
      'Service/lifeboat-runner-metrics',
      'Service/lifeboat-webhook',
      'ServiceAccount/lifeboat-runner',
      'ServiceAccount/lifeboat-webhook',
      'ValidatingWebhookConfiguration/lifeboat',
    ]);
  });

  it('the chart with webhook.tls=cert-manager renders the objects of deploy/kustomize/cert-manager', function () {
    assertSameObjects(helm(['--set', 'webhook.tls=cert-manager']), kustomizeTree('cert-manager'));
  });

  it('the chart with workerNamespaces renders what deploy/kustomize/worker-namespace gives each namespace', function () {
    const expected = [
      ...kustomizeTree('self-signed'),
      ...kustomizeOf(join(scratch, 'team-a'), ['deploy/kustomize/worker-namespace'], 'team-a'),
      ...kustomizeOf(join(scratch, 'team-b'), ['deploy/kustomize/worker-namespace'], 'team-b'),
    ];
    const fromHelm = helm(['--set', 'workerNamespaces={team-a,team-b}']);
    assertSameObjects(fromHelm, expected);
    const binding = fromHelm.find(
      (o) => o.kind === 'RoleBinding' && o.metadata.namespace === 'team-b' && o.metadata.name === 'lifeboat-runner',
    );
    // The runner's binding names the runner where it runs; the worker's names the namespace's own account.
    assert.deepEqual(binding?.['subjects'], [
      { kind: 'ServiceAccount', name: 'lifeboat-runner', namespace: NAMESPACE },
    ]);
    const worker = fromHelm.find(
      (o) => o.kind === 'RoleBinding' && o.metadata.namespace === 'team-b' && o.metadata.name === 'lifeboat-worker',
    );
    assert.deepEqual(worker?.['subjects'], [{ kind: 'ServiceAccount', name: 'lifeboat-worker', namespace: 'team-b' }]);
  });

  it('the chart refuses values it does not know (values.schema.json)', function () {
    const res = run('helm', ['template', 'lifeboat', CHART, '--set', 'webhook.tls=vault'], { path: tools });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /webhook\/tls/);
    assert.equal(run('helm', ['lint', '--strict', CHART], { path: tools }).status, 0);
  });

  it('kubeconform -strict passes both renderings, and refuses a field Kubernetes does not have', function () {
    const withWorkers = [
      ...kustomizeTree('self-signed'),
      ...kustomizeOf(join(scratch, 'conform'), ['deploy/kustomize/worker-namespace'], 'team-a'),
    ];
    for (const [what, objects] of [
      ['kustomize self-signed + a worker namespace', withWorkers],
      ['helm default values', helm([])],
    ] as const) {
      const res = kubeconform(objects);
      assert.equal(res.status, 0, `${what}: ${res.stdout}${res.stderr}`);
      assert.match(
        res.stdout,
        new RegExp(
          `${objects.length} resources found in 1 file - Valid: ${objects.length}, Invalid: 0, Errors: 0, Skipped: 0`,
        ),
      );
    }
    // cert-manager's kinds have no schema here (cert-manager is not installed on the stack).
    const certManager = kubeconform(kustomizeTree('cert-manager'), ['-skip', 'Certificate,Issuer']);
    assert.equal(certManager.status, 0, certManager.stdout);
    assert.match(certManager.stdout, /Invalid: 0, Errors: 0, Skipped: 4/);

    // Not vacuous: a misspelt field of the runner's pod and of a CRD's spec are both refused.
    const runner = structuredClone(
      withWorkers.find((o) => o.kind === 'Deployment' && o.metadata.name === 'lifeboat-runner'),
    );
    assert.ok(runner);
    const pod = (runner['spec'] as { template: { spec: Record<string, unknown> } }).template.spec;
    pod['serviceAccountNme'] = pod['serviceAccountName'];
    const backup: Manifest = {
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'Backup',
      metadata: { name: 'b', namespace: 'team-a' },
      spec: { cluster: { name: 'shop' }, clusterr: 'x' },
    };
    const bad = kubeconform([runner, backup]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout, /Deployment lifeboat-runner is invalid.*serviceAccountNme/);
    assert.match(bad.stdout, /Backup b is invalid.*clusterr/);
  });

  /**
   * kubectl apply --server-side --dry-run=server. A dry run does not create lifeboat-system, and
   * the API server refuses objects in a namespace that does not exist, so the namespaced objects
   * move into the test's namespace (and the worker namespace's objects too). The stack's own
   * webhook configurations are named lifeboat as well (webhook/manifests/local, a URL client):
   * applied over them, the Service client would merge with their URL into an invalid object, so
   * ours are dry-run created under the test namespace's name instead.
   */
  function dryRun(objects: readonly Manifest[], into: string): Run {
    const items = objects.map((o) => {
      if (o.metadata.namespace) return { ...o, metadata: { ...o.metadata, namespace: into } };
      if (o.kind.endsWith('WebhookConfiguration')) return { ...o, metadata: { ...o.metadata, name: into } };
      return o;
    });
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
    return kubectl(
      [
        'apply',
        '--server-side',
        '--dry-run=server',
        '--field-manager=lifeboat-install-e2e',
        '--force-conflicts',
        '-o',
        'name',
        '-f',
        '-',
      ],
      list,
    );
  }

  function assertDryRunAccepts(objects: readonly Manifest[], into: string): void {
    const res = dryRun(objects, into);
    assert.equal(res.status, 0, `the server-side dry run refused: ${res.stderr}`);
    const applied = res.stdout.split('\n').filter((l) => l.trim() !== '');
    assert.equal(applied.length, objects.length, `every object applied once: ${res.stdout}`);
    assert.doesNotMatch(res.stderr, /Warning/);
  }

  /** The resourceVersion of each cluster-wide object the install would write ('absent' if none). */
  function stored(): Record<string, string> {
    const names = [
      `namespace/${NAMESPACE}`,
      'mutatingwebhookconfiguration/lifeboat',
      'validatingwebhookconfiguration/lifeboat',
      'clusterrole/lifeboat-runner',
      'clusterrolebinding/lifeboat-runner',
      'customresourcedefinition/backups.lifeboat.dev',
    ];
    return Object.fromEntries(
      names.map((n) => {
        const res = kubectl(['get', n, '-o', 'jsonpath={.metadata.resourceVersion}']);
        return [n, res.status === 0 ? res.stdout : 'absent'];
      }),
    );
  }

  it('the API server accepts the kustomize tree and the chart in a server-side dry run', async function () {
    // The stack's own webhook configurations are named lifeboat too (webhook/manifests/local).
    const before = stored();
    ns = await createNamespace('install manifests');
    const workers = kustomizeOf(join(scratch, 'dry-run'), ['deploy/kustomize/worker-namespace'], ns.name);
    assertDryRunAccepts([...kustomizeTree('self-signed'), ...workers], ns.name);
    assertDryRunAccepts(helm(['--set', `workerNamespaces={${ns.name}}`]), ns.name);
    assert.deepEqual(stored(), before, 'nothing stored: the cluster-wide objects are as they were');

    // Not vacuous: the same run with a field the API server does not know is refused.
    const runner = kustomizeTree('self-signed').find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'lifeboat-runner',
    );
    assert.ok(runner);
    (runner['spec'] as Record<string, unknown>)['replica'] = 2;
    const refused = dryRun([runner], ns.name);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /replica/);
  });
});

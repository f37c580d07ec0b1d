// The webhook's deployment manifests with the stack's kubectl and API server: each tree under
// webhook/manifests rendered by `kubectl kustomize`, checked as rendered, and applied with
// --dry-run=server so the API server validates and admits every object while storing none.
// Nothing here creates a webhook configuration for real: a failurePolicy Fail webhook pointing
// at a Service that does not exist would block Lifeboat writes for everyone using the stack.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type {
  V1Deployment,
  V1MutatingWebhookConfiguration,
  V1Namespace,
  V1Role,
  V1Service,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { createNamespace, kubectl, kubectlOk, type KubectlResult, type TestNamespace } from './support/kube.js';
import { REPO_ROOT } from './support/stack.js';

const NAMESPACE = 'lifeboat-system';
const TLS_DIR = '/etc/lifeboat/tls';
const TLS_SECRET = 'lifeboat-webhook-tls';

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

type Tree = 'base' | 'cert-manager' | 'self-signed' | 'local';

/** `kubectl kustomize webhook/manifests/<tree>`, as objects. */
function render(tree: Tree): Manifest[] {
  const out = kubectlOk(['kustomize', join(REPO_ROOT, 'webhook', 'manifests', tree)]);
  return parseAllDocuments(out).map((d) => d.toJS() as Manifest);
}

const ids = (objects: readonly Manifest[]): string[] => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();

function find<T>(objects: readonly Manifest[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind}/${name} is rendered; got ${ids(objects).join(', ')}`);
  return found as T;
}

function podSpec(objects: readonly Manifest[]): NonNullable<V1Deployment['spec']>['template']['spec'] {
  const pod = find<V1Deployment>(objects, 'Deployment', 'lifeboat-webhook').spec?.template.spec;
  assert.equal(pod?.containers.length, 1);
  return pod;
}

const webhookConfigurations = (
  objects: readonly Manifest[],
): (V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration)[] => [
  find<V1MutatingWebhookConfiguration>(objects, 'MutatingWebhookConfiguration', 'lifeboat'),
  find<V1ValidatingWebhookConfiguration>(objects, 'ValidatingWebhookConfiguration', 'lifeboat'),
];

/**
 * A server dry run does not create lifeboat-system, and the API server refuses objects in a
 * namespace that does not exist; so the namespaced objects move into the test's namespace. It is
 * labelled to warn at the Pod Security level namespace.yaml enforces: for a Deployment, Pod Security
 * admission only warns (enforcement happens on Pods, which a dry run never makes).
 */
async function dryRunNamespace(title: string, objects: readonly Manifest[]): Promise<TestNamespace> {
  const ns = await createNamespace(title);
  const level = find<V1Namespace>(objects, 'Namespace', NAMESPACE).metadata?.labels?.[
    'pod-security.kubernetes.io/enforce'
  ];
  assert.equal(level, 'restricted');
  kubectlOk(['label', 'namespace', ns.name, `pod-security.kubernetes.io/warn=${level}`]);
  return ns;
}

/** kubectl apply --dry-run=server with strict field validation; the result, success or not. */
function dryRunApply(objects: readonly Manifest[], namespace?: string): KubectlResult {
  const items = objects.map((o) =>
    namespace && o.metadata.namespace === NAMESPACE ? { ...o, metadata: { ...o.metadata, namespace } } : o,
  );
  const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
  return kubectl(['apply', '--dry-run=server', '--validate=strict', '-o', 'name', '-f', '-'], list);
}

/** The API server accepted every object, and Pod Security admission had nothing to warn about. */
function assertAccepted(objects: readonly Manifest[], namespace?: string): void {
  const res = dryRunApply(objects, namespace);
  assert.equal(res.status, 0, `kubectl apply --dry-run=server refused: ${res.stderr}`);
  assert.doesNotMatch(res.stderr, /PodSecurity/);
  // `-o name` prints resource.group/name, e.g. deployment.apps/lifeboat-webhook.
  const applied = res.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.replace(/^([^./]+)[^/]*\//, '$1/'));
  const expected = objects.map((o) => `${o.kind.toLowerCase()}/${o.metadata.name}`);
  assert.deepEqual(applied.sort(), expected.sort(), 'every object applied, once');
}

const isCertManager = (o: Manifest): boolean => o.apiVersion.startsWith('cert-manager.io/');

describe('webhook manifests rendered by kustomize, checked by a real API server', function () {
  let ns: TestNamespace | undefined;
  afterEach(async function () {
    await ns?.cleanup();
    ns = undefined;
  });

  it('base: the API server accepts every object (server dry run), and its pods meet Pod Security "restricted"', async function () {
    const objects = render('base');
    assert.deepEqual(ids(objects), [
      'ClusterRole/lifeboat-webhook',
      'ClusterRoleBinding/lifeboat-webhook',
      'Deployment/lifeboat-webhook',
      'MutatingWebhookConfiguration/lifeboat',
      'Namespace/lifeboat-system',
      'NetworkPolicy/lifeboat-webhook',
      'PodDisruptionBudget/lifeboat-webhook',
      'Service/lifeboat-webhook',
      'ServiceAccount/lifeboat-webhook',
      'ValidatingWebhookConfiguration/lifeboat',
    ]);
    ns = await dryRunNamespace('webhook manifests base', objects);
    assertAccepted(objects, ns.name);

    // The warning check above is not vacuous: the same Deployment without its hardening is flagged.
    const deployment = structuredClone(find<V1Deployment & Manifest>(objects, 'Deployment', 'lifeboat-webhook'));
    const [webhook] = deployment.spec?.template.spec?.containers ?? [];
    if (webhook) delete webhook.securityContext;
    const loose = dryRunApply([deployment], ns.name);
    assert.equal(loose.status, 0, loose.stderr);
    assert.match(loose.stderr, /would violate PodSecurity "restricted/);
  });

  it('self-signed: appends --self-signed and --tls-secret, adds its RBAC; the API server accepts it (server dry run)', async function () {
    const objects = render('self-signed');
    const base = render('base');
    assert.deepEqual(
      ids(objects),
      [
        ...ids(base),
        'ClusterRole/lifeboat-webhook-self-signed',
        'ClusterRoleBinding/lifeboat-webhook-self-signed',
        'Role/lifeboat-webhook-tls',
        'RoleBinding/lifeboat-webhook-tls',
      ].sort(),
    );
    const pod = podSpec(objects);
    assert.deepEqual(pod?.containers[0]?.args, [
      'webhook',
      '--listen=0.0.0.0:9443',
      '--self-signed',
      `--tls-secret=${NAMESPACE}/${TLS_SECRET}`,
    ]);
    assert.deepEqual(
      pod?.volumes?.map((v) => v.name),
      ['tmp'],
      'no certificate volume: the certificate lives in the Secret',
    );
    // The Secret --tls-secret names is the one the Role lets it read and replace.
    const role = find<V1Role>(objects, 'Role', 'lifeboat-webhook-tls');
    assert.equal(role.metadata?.namespace, NAMESPACE);
    assert.deepEqual(role.rules?.[0]?.resourceNames, [TLS_SECRET]);
    ns = await dryRunNamespace('webhook manifests self-signed', objects);
    assertAccepted(objects, ns.name);
  });

  it('cert-manager: mounts the issued Secret, passes --cert-dir, injects the CA; the API server accepts all but the cert-manager objects (server dry run; Certificate and Issuer are not installed here)', async function () {
    const objects = render('cert-manager');
    const pod = podSpec(objects);
    const [webhook] = pod?.containers ?? [];
    assert.deepEqual(webhook?.args, ['webhook', '--listen=0.0.0.0:9443', `--cert-dir=${TLS_DIR}`]);
    assert.deepEqual(
      webhook?.volumeMounts?.find((m) => m.mountPath === TLS_DIR),
      { name: 'tls', mountPath: TLS_DIR, readOnly: true },
    );
    assert.deepEqual(pod?.volumes?.find((v) => v.name === 'tls')?.secret, { secretName: TLS_SECRET });

    for (const config of webhookConfigurations(objects))
      assert.equal(
        config.metadata?.annotations?.['cert-manager.io/inject-ca-from'],
        `${NAMESPACE}/lifeboat-webhook-serving`,
        `${String(config.kind)} gets its caBundle from the serving Certificate`,
      );
    assert.deepEqual(
      objects.filter((o) => o.kind === 'Role').map((o) => o.metadata.name),
      [],
      'no access to Secrets: cert-manager writes the Secret, the pods only mount it',
    );

    const rest = objects.filter((o) => !isCertManager(o));
    assert.deepEqual(ids(rest), ids(render('base')), 'apart from the cert-manager objects, the base objects');
    ns = await dryRunNamespace('webhook manifests cert-manager', rest);
    assertAccepted(rest, ns.name);
  });

  it('cert-manager: a self-signed Issuer makes the CA, a CA Issuer signs the serving Certificate for the Service (rendered YAML only: cert-manager kinds are not installed here)', function () {
    const objects = render('cert-manager');
    interface Issued {
      metadata: { name: string; namespace: string };
      spec: { secretName: string; isCA?: boolean; dnsNames?: string[]; usages?: string[]; issuerRef: object };
    }
    assert.deepEqual(ids(objects.filter(isCertManager)), [
      'Certificate/lifeboat-webhook-ca',
      'Certificate/lifeboat-webhook-serving',
      'Issuer/lifeboat-selfsigned',
      'Issuer/lifeboat-webhook-ca',
    ]);
    for (const o of objects.filter(isCertManager)) {
      assert.equal(o.apiVersion, 'cert-manager.io/v1');
      assert.equal(o.metadata.namespace, NAMESPACE, `${o.kind}/${o.metadata.name} sits beside the Deployment`);
    }
    assert.deepEqual(find<Manifest>(objects, 'Issuer', 'lifeboat-selfsigned').spec, { selfSigned: {} });
    const ca = find<Issued>(objects, 'Certificate', 'lifeboat-webhook-ca');
    assert.equal(ca.spec.isCA, true);
    assert.deepEqual(ca.spec.issuerRef, { kind: 'Issuer', name: 'lifeboat-selfsigned' });
    const caIssuer = find<Manifest>(objects, 'Issuer', 'lifeboat-webhook-ca');
    assert.deepEqual(caIssuer.spec, { ca: { secretName: ca.spec.secretName } });

    const serving = find<Issued>(objects, 'Certificate', 'lifeboat-webhook-serving');
    assert.deepEqual(serving.spec.issuerRef, { kind: 'Issuer', name: 'lifeboat-webhook-ca' });
    assert.equal(serving.spec.isCA, undefined);
    assert.equal(serving.spec.secretName, TLS_SECRET, 'the Secret the Deployment mounts');
    assert.ok(serving.spec.usages?.includes('server auth'));
    const service = find<V1Service>(objects, 'Service', 'lifeboat-webhook');
    const host = `${String(service.metadata?.name)}.${String(service.metadata?.namespace)}.svc`;
    assert.deepEqual(serving.spec.dnsNames, [host, `${host}.cluster.local`], 'the names the API server calls');
    const inject = webhookConfigurations(objects)[0]?.metadata?.annotations?.['cert-manager.io/inject-ca-from'];
    assert.equal(inject, `${serving.metadata.namespace}/${serving.metadata.name}`);
  });

  it('local: only the two webhook configurations, calling 127.0.0.1:19443 instead of the Service; the API server accepts them (server dry run)', function () {
    const objects = render('local');
    assert.deepEqual(ids(objects), [
      'MutatingWebhookConfiguration/lifeboat',
      'ValidatingWebhookConfiguration/lifeboat',
    ]);
    const local = webhookConfigurations(objects);
    const base = webhookConfigurations(render('base'));
    for (const [i, path] of ['/mutate', '/validate'].entries()) {
      const [hook] = local[i]?.webhooks ?? [];
      assert.deepEqual(hook?.clientConfig, { url: `https://127.0.0.1:19443${path}` });
      const [baseHook] = base[i]?.webhooks ?? [];
      assert.deepEqual({ ...hook, clientConfig: {} }, { ...baseHook, clientConfig: {} }, 'all else as in the base');
    }
    assertAccepted(objects);
  });
});

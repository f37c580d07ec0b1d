// The webhook's deployment manifests (webhook/manifests), file by file, without a cluster: the
// facts the API server, the scheduler and the webhook process rely on. e2e/webhook-manifests.e2e.ts
// renders the overlays with kustomize and has a real API server check them.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1Deployment,
  V1MutatingWebhookConfiguration,
  V1NetworkPolicy,
  V1PodDisruptionBudget,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1Service,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { GROUP, KIND_PLURALS, VERSION } from '../../crds/api-constants.js';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';

const MANIFESTS = join(PACKAGE_ROOT, 'webhook', 'manifests');
const PLURALS = Object.values(KIND_PLURALS).sort();
const MUTATING = 'base/webhook-configurations/mutating-webhook-configuration.yaml';
const VALIDATING = 'base/webhook-configurations/validating-webhook-configuration.yaml';
const SERVICE_ACCOUNT = { kind: 'ServiceAccount', name: 'lifeboat-webhook', namespace: 'lifeboat-system' };

/** Every YAML file under webhook/manifests, relative to it. */
function yamlFiles(): string[] {
  return readdirSync(MANIFESTS, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml'))
    .sort();
}

function docs(file: string): { kind?: string }[] {
  const parsed = parseAllDocuments(readFileSync(join(MANIFESTS, file), 'utf8'));
  for (const doc of parsed) assert.deepEqual(doc.errors, [], `${file} is valid YAML`);
  return parsed.map((d) => d.toJS() as { kind?: string });
}

/** The one object of this kind in the file. */
function one<T>(file: string, kind: string): T {
  const found = docs(file).filter((d) => d.kind === kind);
  assert.equal(found.length, 1, `${file} holds one ${kind}`);
  return found[0] as T;
}

const sorted = (values: readonly string[] | undefined): string[] => [...(values ?? [])].sort();

const deployment = (): V1Deployment => one<V1Deployment>('base/deployment.yaml', 'Deployment');

describe('webhook manifests (webhook/manifests)', () => {
  it('has only YAML that parses, each file saying first what it is for', () => {
    const files = yamlFiles();
    for (const dir of ['base', 'cert-manager', 'self-signed', 'local'])
      assert.ok(files.includes(`${dir}/kustomization.yaml`), `${dir}/kustomization.yaml exists`);
    for (const file of files) {
      assert.match(readFileSync(join(MANIFESTS, file), 'utf8'), /^# \S/, `${file} starts with a comment`);
      assert.ok(docs(file).length > 0, `${file} has content`);
    }
  });

  const configurations = [
    { kind: 'MutatingWebhookConfiguration', file: MUTATING, webhook: 'mutate.lifeboat.dev', path: '/mutate' },
    { kind: 'ValidatingWebhookConfiguration', file: VALIDATING, webhook: 'validate.lifeboat.dev', path: '/validate' },
  ];
  for (const { kind, file, webhook, path } of configurations) {
    it(`${kind} lifeboat: fails closed within 5 s on the four kinds, outside kube-system and lifeboat-system`, () => {
      const config = one<V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration>(file, kind);
      assert.equal(config.metadata?.name, 'lifeboat', 'the name the self-signed webhook patches caBundle into');
      assert.equal(config.webhooks?.length, 1);
      const [hook] = config.webhooks ?? [];
      assert.equal(hook?.name, webhook);
      assert.deepEqual(hook?.admissionReviewVersions, ['v1']);
      assert.equal(hook?.sideEffects, 'None');
      assert.equal(hook?.failurePolicy, 'Fail');
      assert.equal(hook?.timeoutSeconds, 5);
      assert.equal(hook?.matchPolicy, 'Equivalent');
      assert.deepEqual(hook?.clientConfig, {
        service: { name: 'lifeboat-webhook', namespace: 'lifeboat-system', path, port: 443 },
      });
      assert.equal(hook?.rules?.length, 1);
      const [rule] = hook?.rules ?? [];
      assert.deepEqual(rule?.apiGroups, [GROUP]);
      assert.deepEqual(rule?.apiVersions, [VERSION]);
      assert.deepEqual(sorted(rule?.resources), PLURALS);
      assert.deepEqual(rule?.operations, ['CREATE', 'UPDATE']);
      assert.equal(rule?.scope, 'Namespaced');
      assert.deepEqual(hook?.namespaceSelector, {
        matchExpressions: [
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'lifeboat-system'] },
        ],
      });
    });
  }

  it('runs the mutating webhook again when a later webhook changes the object', () => {
    const config = one<V1MutatingWebhookConfiguration>(MUTATING, 'MutatingWebhookConfiguration');
    assert.equal(config.webhooks?.[0]?.reinvocationPolicy, 'IfNeeded');
  });

  it('runs 2 replicas of `lifeboat webhook` on 9443, probed over HTTPS, spread over nodes', () => {
    const { spec } = deployment();
    assert.equal(spec?.replicas, 2);
    const pod = spec?.template.spec;
    assert.equal(pod?.serviceAccountName, 'lifeboat-webhook');
    assert.equal(pod?.containers.length, 1);
    const [container] = pod?.containers ?? [];
    assert.equal(container?.image, 'lifeboat:0.1.0');
    assert.deepEqual(container?.args, ['webhook', '--listen=0.0.0.0:9443'], 'the overlays add the TLS flags');
    assert.deepEqual(container?.ports, [{ name: 'https', containerPort: 9443 }]);
    assert.deepEqual(container?.readinessProbe?.httpGet, { path: '/readyz', port: 'https', scheme: 'HTTPS' });
    assert.deepEqual(container?.livenessProbe?.httpGet, { path: '/healthz', port: 'https', scheme: 'HTTPS' });

    const affinity = pod?.affinity?.podAntiAffinity;
    assert.equal(affinity?.requiredDuringSchedulingIgnoredDuringExecution, undefined, 'preferred, not required');
    const [term] = affinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.equal(term?.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
    assert.deepEqual(term?.podAffinityTerm.labelSelector?.matchLabels, spec?.template.metadata?.labels);
  });

  it('runs the container locked down: non-root, read-only root, no escalation, no capabilities, bounded', () => {
    const pod = deployment().spec?.template.spec;
    assert.equal(pod?.securityContext?.runAsNonRoot, true);
    assert.equal(pod?.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    const [container] = pod?.containers ?? [];
    assert.equal(container?.securityContext?.runAsNonRoot, true);
    assert.equal(container?.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(container?.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(container?.securityContext?.privileged, undefined);
    assert.deepEqual(container?.securityContext?.capabilities, { drop: ['ALL'] });
    const { requests, limits } = container?.resources ?? {};
    assert.deepEqual(Object.keys(requests ?? {}).sort(), ['cpu', 'memory']);
    assert.deepEqual(Object.keys(limits ?? {}).sort(), ['cpu', 'memory']);
  });

  it('reaches the pods through Service port 443 → 9443, and keeps one up with a PodDisruptionBudget', () => {
    const { spec } = deployment();
    const labels = spec?.template.metadata?.labels;
    assert.deepEqual(spec?.selector.matchLabels, labels);

    const service = one<V1Service>('base/service.yaml', 'Service');
    assert.deepEqual(service.metadata?.name, 'lifeboat-webhook');
    assert.deepEqual(service.spec?.selector, labels);
    assert.equal(service.spec?.ports?.length, 1);
    const [port] = service.spec?.ports ?? [];
    assert.equal(port?.port, 443);
    const target = spec?.template.spec?.containers[0]?.ports?.find((p) => p.name === port?.targetPort);
    assert.equal(target?.containerPort, 9443, `targetPort ${String(port?.targetPort)} is the container's 9443`);

    const pdb = one<V1PodDisruptionBudget>('base/pod-disruption-budget.yaml', 'PodDisruptionBudget');
    assert.equal(pdb.spec?.minAvailable, 1);
    assert.equal(pdb.spec?.maxUnavailable, undefined);
    assert.deepEqual(pdb.spec?.selector?.matchLabels, labels);
  });

  it('grants the base get, list and watch on the four Lifeboat kinds, get on Namespaces, nothing on Secrets', () => {
    const roles = yamlFiles()
      .filter((f) => f.startsWith('base/'))
      .flatMap(docs)
      .filter((d): d is V1Role | V1ClusterRole => d.kind === 'Role' || d.kind === 'ClusterRole');
    assert.deepEqual(
      roles.map((r) => `${String(r.kind)}/${String(r.metadata?.name)}`),
      ['ClusterRole/lifeboat-webhook'],
    );
    const rules: V1PolicyRule[] = roles.flatMap((r) => r.rules ?? []);
    const lifeboat = rules.filter((r) => r.apiGroups?.includes(GROUP));
    for (const rule of lifeboat) assert.deepEqual(sorted(rule.verbs), ['get', 'list', 'watch']);
    assert.deepEqual(sorted(lifeboat.flatMap((r) => r.resources ?? [])), PLURALS);
    // The IAM-role policy (LB802) reads the labels of the Namespace under review; nothing else of core.
    const core = rules.filter((r) => !r.apiGroups?.includes(GROUP));
    assert.deepEqual(core, [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get'] }]);

    const binding = one<V1ClusterRoleBinding>('base/rbac.yaml', 'ClusterRoleBinding');
    assert.equal(binding.roleRef.name, 'lifeboat-webhook');
    assert.deepEqual(binding.subjects, [SERVICE_ACCOUNT]);
  });

  it('a NetworkPolicy lets traffic reach the webhook pods on their HTTPS port 9443 only', () => {
    const policy = one<V1NetworkPolicy>('base/network-policy.yaml', 'NetworkPolicy');
    assert.equal(policy.metadata?.namespace, 'lifeboat-system');
    assert.deepEqual(policy.spec?.podSelector?.matchLabels, deployment().spec?.selector.matchLabels);
    assert.deepEqual(policy.spec?.policyTypes, ['Ingress']);
    assert.equal(policy.spec?.ingress?.length, 1);
    assert.deepEqual(policy.spec?.ingress?.[0]?.ports, [{ protocol: 'TCP', port: 9443 }]);
    const base = one<{ resources: string[] }>('base/kustomization.yaml', 'Kustomization');
    assert.ok(base.resources.includes('network-policy.yaml'), 'the base installs it');
  });

  it('grants --self-signed only the two webhook configurations named lifeboat and the TLS Secret', () => {
    const file = 'self-signed/rbac.yaml';
    assert.deepEqual(one<V1ClusterRole>(file, 'ClusterRole').rules, [
      {
        apiGroups: ['admissionregistration.k8s.io'],
        resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'],
        resourceNames: ['lifeboat'],
        verbs: ['get', 'patch'],
      },
    ]);
    const role = one<V1Role>(file, 'Role');
    assert.equal(role.metadata?.namespace, 'lifeboat-system');
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['lifeboat-webhook-tls'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] }, // create takes no resourceNames
    ]);
    assert.deepEqual(one<V1ClusterRoleBinding>(file, 'ClusterRoleBinding').subjects, [SERVICE_ACCOUNT]);
    const roleBinding = one<V1RoleBinding>(file, 'RoleBinding');
    assert.deepEqual(roleBinding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: role.metadata?.name,
    });
    assert.deepEqual(roleBinding.subjects, [SERVICE_ACCOUNT]);
  });
});

// The RBAC of the install manifests against the code: every Kubernetes call a component's code
// can make (found by following its imports from its entry point) is in the audit below, and every
// right the audit says that call needs is granted to the component's service account, where the
// call is made. A new call fails here until it is audited and granted; docs/install.md has the
// same table for people.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { V1ClusterRoleBinding, V1PolicyRule, V1RoleBinding } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';

/** Where a call is made: cluster-wide, in lifeboat-system, or in a namespace enabled for workers. */
type Scope = 'cluster' | 'own' | 'work';

interface Need {
  readonly group: string;
  readonly resource: string;
  readonly verb: string;
  readonly scope: Scope;
  /** With resourceNames: the object the call names. */
  readonly name?: string;
}

const LIFEBOAT = ['clusters', 'backups', 'scheduledbackups', 'restores'];

function needs(
  group: string,
  resources: readonly string[],
  verbs: readonly string[],
  scope: Scope,
  name?: string,
): Need[] {
  return resources.flatMap((resource) =>
    verbs.map((verb) => ({ group, resource, verb, scope, ...(name ? { name } : {}) })),
  );
}
const lifeboat = (verbs: readonly string[], resources = LIFEBOAT, scope: Scope = 'cluster'): Need[] =>
  needs('lifeboat.dev', resources, verbs, scope);

interface Component {
  readonly serviceAccount: { readonly name: string; readonly namespace: string };
  /** The entry point whose imports are the component's code. */
  readonly entry: string;
  /** Each KubeClient (or kube-rest) method the code calls, and the rights it needs. */
  readonly audit: Readonly<Record<string, readonly Need[]>>;
}

const COMPONENTS: Readonly<Record<string, Component>> = {
  webhook: {
    serviceAccount: { name: 'lifeboat-webhook', namespace: 'lifeboat-system' },
    entry: 'webhook/webhook-main.ts',
    audit: {
      getLifeboat: lifeboat(['get']),
      listLifeboat: lifeboat(['list']),
      checkAccess: lifeboat(['list'], ['clusters']),
      readNamespaceLabels: needs('', ['namespaces'], ['get'], 'cluster'),
      // --self-signed only (deploy/kustomize/self-signed, the chart's default).
      injectCaBundle: needs(
        'admissionregistration.k8s.io',
        ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'],
        ['get', 'patch'],
        'cluster',
        'lifeboat',
      ),
      readSecret: needs('', ['secrets'], ['get'], 'own', 'lifeboat-webhook-tls'),
      writeSecret: [
        ...needs('', ['secrets'], ['create'], 'own'),
        ...needs('', ['secrets'], ['update'], 'own', 'lifeboat-webhook-tls'),
      ],
    },
  },
  runner: {
    serviceAccount: { name: 'lifeboat-runner', namespace: 'lifeboat-system' },
    entry: 'runner/runner-main.ts',
    audit: {
      getLifeboat: lifeboat(['get']),
      listLifeboat: lifeboat(['list']),
      watchLifeboat: lifeboat(['list', 'watch']),
      createLifeboat: lifeboat(['create'], ['backups']),
      deleteLifeboat: lifeboat(['delete'], ['backups']),
      patchLifeboatFinalizers: lifeboat(['patch']),
      patchLifeboatStatus: lifeboat(
        ['patch'],
        LIFEBOAT.map((p) => `${p}/status`),
      ),
      createEvent: needs('', ['events'], ['create'], 'cluster'),
      // The leader Lease in lifeboat-system; member Leases a stopped worker left, where it ran.
      getLease: [
        ...needs('coordination.k8s.io', ['leases'], ['get'], 'own', 'lifeboat-runner'),
        ...needs('coordination.k8s.io', ['leases'], ['get'], 'work'),
      ],
      createLease: needs('coordination.k8s.io', ['leases'], ['create'], 'own'),
      replaceLease: needs('coordination.k8s.io', ['leases'], ['update'], 'own', 'lifeboat-runner'),
      deleteLease: needs('coordination.k8s.io', ['leases'], ['delete'], 'work'),
      // The job executor's Jobs and their pods; a Job's ownerReference blocks the owner's deletion.
      createJob: [
        ...needs('batch', ['jobs'], ['create'], 'work'),
        ...lifeboat(['update'], ['clusters/finalizers', 'backups/finalizers', 'restores/finalizers']),
      ],
      readJob: needs('batch', ['jobs'], ['get'], 'work'),
      deleteJob: needs('batch', ['jobs'], ['delete'], 'work'),
      listPods: needs('', ['pods'], ['list'], 'work'),
      // Retention and leftover clean-up reach the object store and the database themselves.
      readSecret: needs('', ['secrets'], ['get'], 'work'),
    },
  },
  worker: {
    serviceAccount: { name: 'lifeboat-worker', namespace: 'team-a' },
    entry: 'cmd/worker-command.ts',
    audit: {
      getLifeboat: lifeboat(['get'], ['clusters', 'backups', 'restores'], 'work'),
      patchLifeboatStatus: lifeboat(['patch'], ['clusters/status', 'backups/status', 'restores/status'], 'work'),
      listPods: needs('', ['pods'], ['list'], 'work'),
      createEvent: needs('', ['events'], ['create'], 'work'),
      getLease: needs('coordination.k8s.io', ['leases'], ['get'], 'work'),
      createLease: needs('coordination.k8s.io', ['leases'], ['create'], 'work'),
      replaceLease: needs('coordination.k8s.io', ['leases'], ['update'], 'work'),
      deleteLease: needs('coordination.k8s.io', ['leases'], ['delete'], 'work'),
      // A worker in a Job reads no Secret: the Job's environment carries the credentials.
      // readSecret is called only by workers the process executor starts, under the runner's identity.
      readSecret: [],
    },
  },
};

/** The public calls of the two Kubernetes clients. */
function kubeMethods(): string[] {
  const names = new Set<string>();
  for (const file of ['lib/kube-client.ts', 'lib/kube-rest.ts']) {
    for (const m of read(file).matchAll(/^ {2}(?:async )?([a-z]\w+)\(/gm)) if (m[1]) names.add(m[1]);
  }
  for (const internal of ['constructor', 'call', 'send']) names.delete(internal);
  return [...names];
}

function read(path: string): string {
  return readFileSync(join(PACKAGE_ROOT, path), 'utf8');
}

/** The repository's TypeScript files an entry point imports, statically or dynamically, transitively. */
function importClosure(entry: string): string[] {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop() ?? '';
    if (seen.has(file)) continue;
    seen.add(file);
    const text = read(file);
    // Type-only imports bring no code along.
    const found = [
      ...text.matchAll(/^(?:import|export)\s+(?!type\s)[^;]*?from\s+'(\.{1,2}\/[^']+)\.js'/gm),
      ...text.matchAll(/(?<!typeof )import\('(\.{1,2}\/[^']+)\.js'\)/g),
    ];
    for (const m of found) {
      const target = relative(PACKAGE_ROOT, join(PACKAGE_ROOT, dirname(file), `${m[1] ?? ''}.ts`));
      if (existsSync(join(PACKAGE_ROOT, target))) todo.push(target);
    }
  }
  return [...seen];
}

function callsOf(entry: string): string[] {
  const methods = kubeMethods();
  const pattern = new RegExp(`\\.(${methods.join('|')})(?:\\?\\.)?\\(`, 'g');
  const calls = new Set<string>();
  for (const file of importClosure(entry)) {
    if (file === 'lib/kube-client.ts' || file === 'lib/kube-rest.ts') continue;
    for (const m of read(file).matchAll(pattern)) if (m[1]) calls.add(m[1]);
  }
  return [...calls].sort();
}

interface RbacObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: V1PolicyRule[];
  roleRef?: V1RoleBinding['roleRef'];
  subjects?: V1RoleBinding['subjects'];
}

function yamlObjects(path: string): RbacObject[] {
  return parseAllDocuments(read(path))
    .map((d) => d.toJS() as RbacObject | null)
    .filter((o): o is RbacObject => o !== null);
}

/** The RBAC of deploy/kustomize/self-signed, and of one namespace enabled as team-a. */
function installedRbac(): RbacObject[] {
  const worker = yamlObjects('deploy/kustomize/worker-namespace/worker-namespace.yaml').map((o) => ({
    ...o,
    metadata: { ...o.metadata, namespace: 'team-a' },
    subjects: o.subjects?.map((s) => (s.namespace === 'default' ? { ...s, namespace: 'team-a' } : s)),
  }));
  return [
    ...yamlObjects('webhook/manifests/base/rbac.yaml'),
    ...yamlObjects('webhook/manifests/self-signed/rbac.yaml'),
    ...yamlObjects('deploy/kustomize/runner/rbac.yaml'),
    ...worker,
  ];
}

function ruleAllows(rule: V1PolicyRule, need: Need): boolean {
  const names = rule.resourceNames ?? [];
  return (
    (rule.apiGroups ?? []).includes(need.group) &&
    (rule.resources ?? []).includes(need.resource) &&
    rule.verbs.includes(need.verb) &&
    (names.length === 0 || (need.name !== undefined && names.includes(need.name)))
  );
}

/** The rules bound to the service account, each with the namespace it holds in (undefined: all). */
function grants(
  rbac: readonly RbacObject[],
  sa: Component['serviceAccount'],
): { rule: V1PolicyRule; namespace?: string }[] {
  const out: { rule: V1PolicyRule; namespace?: string }[] = [];
  for (const binding of rbac.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
    const b = binding as unknown as V1ClusterRoleBinding & RbacObject;
    if (!b.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === sa.name && s.namespace === sa.namespace))
      continue;
    const role = rbac.find(
      (o) =>
        o.kind === b.roleRef.kind &&
        o.metadata.name === b.roleRef.name &&
        (o.kind === 'ClusterRole' || o.metadata.namespace === b.metadata.namespace),
    );
    assert.ok(
      role,
      `${b.kind} ${b.metadata.name} refers to ${b.roleRef.kind} ${b.roleRef.name}, which the install has`,
    );
    const namespace = b.kind === 'RoleBinding' ? b.metadata.namespace : undefined;
    for (const rule of role.rules ?? []) out.push({ rule, ...(namespace ? { namespace } : {}) });
  }
  return out;
}

const SCOPE_NAMESPACE: Readonly<Record<Scope, string | undefined>> = {
  cluster: undefined,
  own: 'lifeboat-system',
  work: 'team-a',
};

describe('install RBAC against the code (deploy/kustomize, webhook/manifests)', function () {
  const rbac = installedRbac();

  for (const [name, component] of Object.entries(COMPONENTS)) {
    it(`${name}: every Kubernetes call its code makes is audited`, function () {
      assert.deepEqual(callsOf(component.entry), Object.keys(component.audit).sort());
    });

    it(`${name}: its service account is granted what each call needs, where it makes it`, function () {
      const granted = grants(rbac, component.serviceAccount);
      for (const [call, list] of Object.entries(component.audit)) {
        for (const need of list) {
          const where = SCOPE_NAMESPACE[need.scope];
          const ok = granted.some(
            (g) => ruleAllows(g.rule, need) && (g.namespace === undefined || g.namespace === where),
          );
          assert.ok(ok, `${name}.${call} needs ${need.verb} ${need.resource}.${need.group} ${where ?? 'cluster-wide'}`);
        }
      }
    });
  }

  it('no service account may read Secrets cluster-wide', function () {
    for (const component of Object.values(COMPONENTS)) {
      const wide = grants(rbac, component.serviceAccount).filter(
        (g) => g.namespace === undefined && (g.rule.resources ?? []).includes('secrets'),
      );
      assert.deepEqual(wide, [], component.serviceAccount.name);
    }
  });

  it('the check is not vacuous: a grant taken away is found missing', function () {
    const without = rbac.map((o) =>
      o.metadata.name === 'lifeboat-runner-namespace'
        ? { ...o, rules: (o.rules ?? []).filter((r) => !(r.resources ?? []).includes('jobs')) }
        : o,
    );
    const granted = grants(without, COMPONENTS['runner']?.serviceAccount ?? { name: '', namespace: '' });
    const need = { group: 'batch', resource: 'jobs', verb: 'create', scope: 'work' as const };
    assert.ok(!granted.some((g) => ruleAllows(g.rule, need)));
  });
});

// Installing Lifeboat into the stack's cluster as a user would: the image loaded into the node's
// containerd, the stack's own webhook and runner out of the way, and a MariaDB StatefulSet as the
// database the worker pods back up. Used by install-kustomize.e2e.ts and install-helm.e2e.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import { eventually } from './eventually.js';
import { kubectl, kubectlOk, type KubeObject, type TestNamespace } from './kube.js';
import { kubectlPath, REPO_ROOT, requireVar, STATE_DIR, stackEnv, stackRunner } from './stack.js';

export const INSTALL_NAMESPACE = 'lifeboat-system';
/** The name the manifests give the image; the kubelet reads it as docker.io/library/…. */
export const LIFEBOAT_IMAGE = 'lifeboat:0.1.0';
export const MARIADB_IMAGE = 'lifeboat-mariadb:10.11';

/** Runs a hack/ script; returns its stdout, throws with its stderr's tail when it fails. */
export function hack(script: string, ...args: string[]): string {
  const run = spawnSync('bash', [join(REPO_ROOT, 'hack', script), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 30 * 60_000,
    env: process.env,
  });
  if (run.status !== 0) {
    const tail = `${run.stderr ?? ''}${run.error?.message ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`hack/${script} ${args.join(' ')} exited ${run.status ?? run.signal}:\n${tail}`);
  }
  return run.stdout.trim();
}

/** The address pods reach the host's MinIO at (hack/node.sh forwards it); fails without a node. */
export function nodeHostIp(): string {
  if (stackEnv()['LIFEBOAT_NODE'] !== '1')
    throw new Error('the stack runs without its node (LIFEBOAT_NODE=0): start it with `npm run up`');
  return requireVar('LIFEBOAT_NODE_HOST_IP', 'the stack node');
}

/** Builds (or reuses) an image and imports it into the node's containerd under `name`. */
export function loadImage(image: 'lifeboat' | 'mariadb', name: string): void {
  const archive = hack('image.sh', 'build', image).split('\n').pop() ?? '';
  hack('node.sh', 'load', archive, `docker.io/library/${name}`);
}

/**
 * The stack's webhook (its configurations call 127.0.0.1 and carry the same names as an
 * installed one) and runner (it would claim the installed runner's work) stop for the describe,
 * and start again after it, with the CRDs an uninstall removed.
 */
export function withoutStackLifeboat(): void {
  let runnerWasUp = false;
  before(function () {
    this.timeout(120_000);
    runnerWasUp = stackRunner('status');
    if (runnerWasUp && !stackRunner('down')) throw new Error('hack/runner.sh down failed');
    hack('webhook.sh', 'down');
  });
  after(function () {
    this.timeout(180_000);
    const crds = ['clusters', 'backups', 'scheduledbackups', 'restores'].map((p) => `crds/lifeboat.dev_${p}.yaml`);
    kubectlOk([
      'apply',
      '--server-side',
      '--field-manager=lifeboat-up',
      ...crds.flatMap((f) => ['-f', join(REPO_ROOT, f)]),
    ]);
    for (const p of ['clusters', 'backups', 'scheduledbackups', 'restores'])
      kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', `crd/${p}.lifeboat.dev`]);
    hack('webhook.sh', 'up');
    if (runnerWasUp && !stackRunner('up')) throw new Error('hack/runner.sh up failed; see .lifeboat/log/runner.log');
  });
}

/**
 * A kustomization in the state folder over `bases` (paths in the repository), optionally moved
 * into `namespace`; returns its folder for `kubectl apply -k`.
 */
export function kustomization(name: string, bases: readonly string[], namespace?: string): string {
  const dir = join(STATE_DIR, 'e2e-install', name);
  mkdirSync(dir, { recursive: true });
  const body = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    ...(namespace ? { namespace } : {}),
    resources: bases.map((b) => relative(dir, join(REPO_ROOT, b))),
  };
  writeFileSync(join(dir, 'kustomization.yaml'), stringify(body));
  return dir;
}

export function rolloutStatus(kind: string, name: string, namespace = INSTALL_NAMESPACE): void {
  kubectlOk(['-n', namespace, 'rollout', 'status', `${kind}/${name}`, '--timeout=240s']);
}

interface PodList {
  items: KubeObject[];
}
export function podsOf(component: string, namespace = INSTALL_NAMESPACE): KubeObject[] {
  const out = kubectlOk([
    '-n',
    namespace,
    'get',
    'pods',
    '-l',
    `app.kubernetes.io/component=${component}`,
    '-o',
    'json',
  ]);
  return (JSON.parse(out) as PodList).items.filter((p) => !p.metadata.deletionTimestamp);
}

/** The holder of the runner's leader Lease, once one holds it. */
export async function runnerLeader(notThis?: string): Promise<string> {
  return eventually(
    `a runner pod holding the Lease ${INSTALL_NAMESPACE}/lifeboat-runner${notThis ? ` other than ${notThis}` : ''}`,
    () => {
      const read = kubectl([
        '-n',
        INSTALL_NAMESPACE,
        'get',
        'lease',
        'lifeboat-runner',
        '-o',
        'jsonpath={.spec.holderIdentity}',
      ]);
      const holder = read.status === 0 ? read.stdout.trim() : '';
      const leads =
        holder !== '' &&
        holder !== notThis &&
        podsOf('runner').some((p) => holder.includes(p.metadata.name ?? '\u0000'));
      return Promise.resolve(leads ? holder : undefined);
    },
    120_000,
  );
}

/**
 * A MariaDB 10.11 StatefulSet (the stack's MariaDB image) and its Service in `namespace`; the
 * account is the one in the Secret `db`. Resolves to the Service's cluster IP and the pod's IP.
 */
export async function deployMariadb(namespace: string): Promise<{ serviceIp: string; podIp: string }> {
  const labels = { app: 'mariadb' };
  const statefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'mariadb', namespace },
    spec: {
      serviceName: 'mariadb',
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          securityContext: { runAsUser: 999, runAsGroup: 999, fsGroup: 999 },
          containers: [
            {
              name: 'mariadb',
              image: MARIADB_IMAGE,
              imagePullPolicy: 'IfNotPresent',
              env: [
                { name: 'MARIADB_USER', valueFrom: { secretKeyRef: { name: 'db', key: 'username' } } },
                { name: 'MARIADB_PASSWORD_FILE', value: '/run/secrets/db/password' },
                { name: 'MARIADB_DATABASE', value: 'shop' },
              ],
              ports: [{ name: 'mysql', containerPort: 3306 }],
              readinessProbe: { tcpSocket: { port: 3306 }, periodSeconds: 2 },
              volumeMounts: [
                { name: 'data', mountPath: '/var/lib/mysql' },
                { name: 'run', mountPath: '/run/mysqld' },
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'db', mountPath: '/run/secrets/db', readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: 'data', emptyDir: {} },
            { name: 'run', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
            { name: 'db', secret: { secretName: 'db', defaultMode: 0o440 } },
          ],
        },
      },
    },
  };
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'mariadb', namespace },
    spec: { selector: labels, ports: [{ name: 'mysql', port: 3306, targetPort: 'mysql' }] },
  };
  kubectlOk(['apply', '-f', '-'], [statefulSet, service].map((o) => stringify(o)).join('---\n'));
  rolloutStatus('statefulset', 'mariadb', namespace);
  const serviceIp = kubectlOk(['-n', namespace, 'get', 'service', 'mariadb', '-o', 'jsonpath={.spec.clusterIP}']);
  const podIp = kubectlOk(['-n', namespace, 'get', 'pod', 'mariadb-0', '-o', 'jsonpath={.status.podIP}']);
  return { serviceIp, podIp };
}

/** kubectl for what waits on pods' shutdown (an uninstall): kubectl() gives up after a minute. */
export function kubectlSlow(args: readonly string[]): string {
  const run = spawnSync(kubectlPath(), args, {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, KUBECONFIG: requireVar('KUBECONFIG', 'kube-apiserver') },
  });
  if (run.status !== 0)
    throw new Error(`kubectl ${args.join(' ')} exited ${run.status ?? run.signal}: ${(run.stderr ?? '').trim()}`);
  return run.stdout;
}

/** The MariaDB StatefulSet first: its controller would make its pod again while the namespace goes. */
export async function removeWorkloadNamespace(ns: TestNamespace): Promise<void> {
  kubectl(['-n', ns.name, 'delete', 'statefulset', '--all', '--wait=false']);
  await ns.cleanup();
}

/** An unsafe Backup without its reason: the installed webhook must refuse it (LB501). */
export function assertRefusesUnsafeBackup(namespace: string): void {
  const refused = kubectl(
    ['apply', '-f', '-'],
    stringify({
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'Backup',
      metadata: { name: 'unsafe', namespace },
      spec: { cluster: { name: 'shop' }, allowUnsafe: true },
    }),
  );
  assert.notEqual(refused.status, 0, 'the Backup was admitted');
  assert.match(refused.stderr, /admission webhook "[^"]*lifeboat[^"]*" denied the request/);
  assert.match(refused.stderr, /LB501/);
}

/** Names of cluster-scoped objects of Lifeboat's install that still exist (for uninstall checks). */
export function leftovers(): string[] {
  const found: string[] = [];
  const kinds = [
    'clusterroles',
    'clusterrolebindings',
    'validatingwebhookconfigurations',
    'mutatingwebhookconfigurations',
  ];
  for (const kind of kinds) {
    const out = kubectlOk(['get', kind, '-l', 'app.kubernetes.io/name=lifeboat', '-o', 'name']).trim();
    if (out) found.push(...out.split('\n'));
  }
  const crds = kubectlOk(['get', 'crd', '-o', 'name'])
    .split('\n')
    .filter((n) => n.endsWith('.lifeboat.dev'));
  found.push(...crds);
  if (kubectl(['get', 'namespace', INSTALL_NAMESPACE]).status === 0) found.push(`namespace/${INSTALL_NAMESPACE}`);
  return found;
}

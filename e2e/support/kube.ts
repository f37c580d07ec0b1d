// The tests' view of the API server: one client per run, a fresh namespace per test, and kubectl.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  ApiException,
  ApiextensionsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  Health,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1ObjectMeta,
} from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../crds/api-constants.js';
import { kubectlPath, requireVar } from './stack.js';

export type Plural = 'clusters' | 'backups' | 'scheduledbackups' | 'restores';
export const PLURALS: readonly Plural[] = ['clusters', 'backups', 'scheduledbackups', 'restores'];
/** Every namespace a test creates carries this label, so leftovers can be found and swept. */
export const E2E_LABEL = 'lifeboat.dev/e2e';

/** A custom object as the API server returns it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface Kube {
  readonly config: KubeConfig;
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly crds: ApiextensionsV1Api;
}

let client: Kube | undefined;

/** One client for the whole run, from the stack's KUBECONFIG. */
export function kube(): Kube {
  if (client) return client;
  const config = new KubeConfig();
  config.loadFromFile(requireVar('KUBECONFIG', 'kube-apiserver'));
  client = {
    config,
    custom: config.makeApiClient(CustomObjectsApi),
    core: config.makeApiClient(CoreV1Api),
    crds: config.makeApiClient(ApiextensionsV1Api),
  };
  return client;
}

/** Forget the client (after hack/up.sh rewrote the kubeconfig). */
export function forgetKube(): void {
  client = undefined;
  batchClient = undefined;
}

/** True when the API server answers /readyz with 200 within the timeout. */
export async function apiServerReady(timeoutMs = 3000): Promise<boolean> {
  try {
    return await new Health(kube().config).readyz({ signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    return false; // refused, timed out, TLS failure: all mean "not ready" to the caller
  }
}

// Custom resources take JSON merge patches; client-node 1.x sends JSON Patch unless told.
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** A namespace owned by one test, with typed access to the Lifeboat objects in it. */
export class TestNamespace {
  constructor(readonly name: string) {}

  /**
   * Creates the object. One of that name still being deleted (the runner's finalizer waits for its
   * worker to stop) is waited for, as `kubectl apply` after `kubectl delete` would be retried.
   */
  async create(plural: Plural, body: KubeObject): Promise<KubeObject> {
    const obj = { ...body, metadata: { ...body.metadata, namespace: this.name } };
    const req = { group: GROUP, version: VERSION, namespace: this.name, plural, body: obj, fieldValidation: 'Strict' };
    for (let attempt = 0; ; attempt++) {
      try {
        return (await kube().custom.createNamespacedCustomObject(req)) as KubeObject;
      } catch (err) {
        if (!(err instanceof ApiException && err.code === 409) || attempt >= 600) throw err;
        const existing = await this.get(plural, body.metadata.name ?? '').catch(() => undefined);
        if (existing && !existing.metadata.deletionTimestamp) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async get(plural: Plural, name: string): Promise<KubeObject> {
    const req = { group: GROUP, version: VERSION, namespace: this.name, plural, name };
    return (await kube().custom.getNamespacedCustomObject(req)) as KubeObject;
  }

  /** The object, or undefined when there is none (404). */
  async find(plural: Plural, name: string): Promise<KubeObject | undefined> {
    try {
      return await this.get(plural, name);
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  async delete(plural: Plural, name: string): Promise<void> {
    await kube().custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: this.name,
      plural,
      name,
    });
  }

  async patch(plural: Plural, name: string, body: object): Promise<KubeObject> {
    const req = { group: GROUP, version: VERSION, namespace: this.name, plural, name, body };
    return (await kube().custom.patchNamespacedCustomObject(req, MERGE_PATCH)) as KubeObject;
  }

  async patchStatus(plural: Plural, name: string, status: object): Promise<KubeObject> {
    const req = { group: GROUP, version: VERSION, namespace: this.name, plural, name, body: { status } };
    return (await kube().custom.patchNamespacedCustomObjectStatus(req, MERGE_PATCH)) as KubeObject;
  }

  private cleaned = false;

  /** Deletes what the test put here, then the namespace itself; once, however often it is called. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    await deleteNamespace(this.name);
  }
}

/**
 * Gives each test of the enclosing describe a namespace of its own (named after the test), and
 * removes it afterwards: `let ns: TestNamespace; namespacePerTest((n) => (ns = n));`.
 */
export function namespacePerTest(use: (ns: TestNamespace) => void): void {
  let current: TestNamespace | undefined;
  beforeEach(async function () {
    current = await createNamespace(this.currentTest?.title.slice(0, 24));
    use(current);
  });
  afterEach(async function () {
    await current?.cleanup();
  });
}

/** A new namespace with a unique name (from the hint, e.g. the test title), labelled as e2e. */
export async function createNamespace(hint = 'test'): Promise<TestNamespace> {
  const slug = hint
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)
    .replace(/^-+|-+$/g, '');
  const name = `e2e-${slug || 'test'}-${randomBytes(3).toString('hex')}`;
  await kube().core.createNamespace({ body: { metadata: { name, labels: { [E2E_LABEL]: 'true' } } } });
  return new TestNamespace(name);
}

let batchClient: BatchV1Api | undefined;
function batch(): BatchV1Api {
  batchClient ??= kube().config.makeApiClient(BatchV1Api);
  return batchClient;
}

/**
 * Without kube-controller-manager nothing empties a deleted namespace: its objects would stay in
 * etcd and the namespace would stay Terminating. So delete the objects first (the whole namespace
 * belongs to one test, so everything in it is the test's), then clear the `kubernetes` finalizer,
 * which is the namespace controller's job, so the API server removes the namespace at once.
 */
export async function deleteNamespace(name: string): Promise<void> {
  const { custom, core } = kube();
  for (const plural of PLURALS) {
    await custom.deleteCollectionNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: name, plural });
  }
  await releaseFinalizers(name);
  // With the stack's node a test's Jobs and pods run: gone with the namespace, or the kubelet
  // would keep running pods of a namespace that no longer exists. Jobs first (their controller
  // makes pods); pods at once, as nothing of the test waits on their shutdown.
  await batch().deleteCollectionNamespacedJob({ namespace: name, propagationPolicy: 'Background' });
  await core.deleteCollectionNamespacedPod({ namespace: name, gracePeriodSeconds: 0 });
  await core.deleteCollectionNamespacedSecret({ namespace: name });
  await core.deleteCollectionNamespacedConfigMap({ namespace: name });
  // 409: already Terminating (a swept leftover); the finalize below finishes it either way.
  await core.deleteNamespace({ name }).catch((err: unknown) => {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
  });
  await core.replaceNamespaceFinalize({ name, body: { metadata: { name }, spec: { finalizers: [] } } });
}

/**
 * A runner's finalizer holds a deleted Backup or Restore until its worker has stopped; a runner
 * stopped with the test (or none at all) cannot release it. Wait a little for the runner, then
 * clear what is left: objects in a namespace that is gone can no longer be patched.
 */
async function releaseFinalizers(namespace: string, waitMs = 20_000): Promise<void> {
  const { custom } = kube();
  const held = async (): Promise<{ plural: Plural; name: string }[]> => {
    const found: { plural: Plural; name: string }[] = [];
    for (const plural of PLURALS) {
      const list = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })) as {
        items?: KubeObject[];
      };
      for (const o of list.items ?? []) found.push({ plural, name: o.metadata.name ?? '' });
    }
    return found;
  };
  const deadline = Date.now() + waitMs;
  let left = await held();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    left = await held();
  }
  for (const { plural, name } of left) {
    const body = { metadata: { finalizers: null } };
    await custom
      .patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name, body }, MERGE_PATCH)
      .catch(() => undefined);
  }
}

/** Removes e2e namespaces an interrupted run left behind: Terminating ones, or older than maxAgeMs. */
export async function sweepStaleNamespaces(maxAgeMs = 60 * 60 * 1000): Promise<string[]> {
  const list = await kube().core.listNamespace({ labelSelector: `${E2E_LABEL}=true` });
  const stale = list.items.filter((ns) => {
    const created = ns.metadata?.creationTimestamp?.getTime() ?? 0;
    return ns.status?.phase === 'Terminating' || Date.now() - created > maxAgeMs;
  });
  const names = stale.map((ns) => ns.metadata?.name ?? '').filter((n) => n !== '');
  for (const name of names) await deleteNamespace(name);
  return names;
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  status: number;
}

/** Runs the stack's kubectl against the stack's API server. A non-zero exit is a result, not an error. */
export function kubectl(args: readonly string[], input?: string): KubectlResult {
  const env = { ...process.env, KUBECONFIG: requireVar('KUBECONFIG', 'kube-apiserver') };
  const res = spawnSync(kubectlPath(), args, { env, input, encoding: 'utf8', timeout: 60_000 });
  if (res.error) throw new Error(`kubectl ${args.join(' ')}: ${res.error.message}`);
  if (res.status === null) throw new Error(`kubectl ${args.join(' ')}: killed by ${String(res.signal)}`);
  return { stdout: res.stdout, stderr: res.stderr, status: res.status };
}

/** kubectl that must succeed; returns stdout. */
export function kubectlOk(args: readonly string[], input?: string): string {
  const res = kubectl(args, input);
  if (res.status !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${res.status}: ${res.stderr.trim()}`);
  return res.stdout;
}

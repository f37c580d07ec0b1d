// The one Kubernetes client wrapper: the few calls Lifeboat makes, with errors that say what to fix.
// Everything else (the webhook, and the runner and workers where their kubeconfig needs
// client-node) goes through here, never through @kubernetes/client-node itself, which is loaded only
// when a client is made (client-node.ts). The runner's and the workers' calls have a light
// transport beside this one (kube-rest.ts) with the same errors and results.
import type { LabelSelectorQuery } from './label-selector.js';
import type {
  AdmissionregistrationV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CoreV1Event,
  CustomObjectsApi,
  KubeConfig,
  RequestContext,
  V1Job,
  V1Pod,
  V1Secret,
} from '@kubernetes/client-node';
import { GROUP, KIND_PLURALS, VERSION } from '../crds/api-constants.js';
import type { LifeboatKind } from '../crds/kinds.js';
import { clientNode, type ClientNodeModule } from './client-node.js';
import { apiError, KubeApiError, noClusterError, unlessNotFound } from './kube-errors.js';
import { toLease, toLeaseRecord, type LeaseRecord } from './kube-lease.js';
import { describeKind, watchLifeboat, type WatchEventType, type WatchHandle, type WatchRequest } from './kube-watch.js';

export { KubeApiError, KubeConflictError, KubeGoneError, KubeNotFoundError } from './kube-errors.js';
export type { LeaseRecord } from './kube-lease.js';
export type { WatchEventType, WatchHandle, WatchRequest } from './kube-watch.js';

export type WebhookConfigurationKind = 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration';

export interface StoredSecret {
  /** Decoded values; never log them. */
  readonly data: Readonly<Record<string, string>>;
  readonly resourceVersion: string;
}

/** One consistent list of a kind: the objects and the resourceVersion to watch from. */
export interface LifeboatList {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
}

export interface StatusPatch {
  /** A JSON merge patch (RFC 7386) of `status`. */
  readonly status: Readonly<Record<string, unknown>>;
  /** The version the patch was computed from: the API server refuses it (409) if the object changed. */
  readonly resourceVersion: string;
}

export interface KubeClientOptions {
  /** Recorded in managedFields of every object this client writes. */
  readonly fieldManager?: string;
  /** A call with no answer after this long is aborted and fails (code 0). Watches are not limited. */
  readonly timeoutMs?: number;
}

/** Every call of the webhook and the runner is bounded, so a hung API server is an error, not a hang. */
export const DEFAULT_KUBE_TIMEOUT_MS = 30_000;

type RequestOptions = ReturnType<ClientNodeModule['setHeaderOptions']>;

const LIST_PAGE = 500;

function encode(data: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
}

/** A Secret as the API server sends it, with its values decoded. */
export function storedSecret(secret: Pick<V1Secret, 'data' | 'metadata'>): StoredSecret {
  const data = Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
  );
  return { data, resourceVersion: secret.metadata?.resourceVersion ?? '' };
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}

/**
 * The API clients' configuration: the kubeconfig's authentication, then an abort signal that
 * fires after `timeoutMs`, applied to every request (client-node has no timeout of its own).
 */
function timedConfiguration(k8s: ClientNodeModule, config: KubeConfig, timeoutMs: number) {
  const server = config.getCurrentCluster()?.server ?? '';
  const timed = {
    getName: () => 'lifeboat-timed',
    applySecurityAuthentication: async (context: RequestContext): Promise<void> => {
      await config.applySecurityAuthentication(context);
      context.setSignal(AbortSignal.timeout(timeoutMs));
    },
  };
  return k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(server, {}),
    authMethods: { default: timed },
  });
}

export class KubeClient {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly batch: BatchV1Api;
  private readonly fieldManager: string;
  private readonly timeoutMs: number;
  private readonly mergePatch: RequestOptions;
  private readonly jsonPatch: RequestOptions;

  constructor(
    readonly config: KubeConfig,
    options: KubeClientOptions = {},
  ) {
    const k8s = clientNode();
    this.timeoutMs = options.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
    const api = timedConfiguration(k8s, config, this.timeoutMs);
    this.custom = new k8s.CustomObjectsApi(api);
    this.core = new k8s.CoreV1Api(api);
    this.admission = new k8s.AdmissionregistrationV1Api(api);
    this.coordination = new k8s.CoordinationV1Api(api);
    this.batch = new k8s.BatchV1Api(api);
    this.fieldManager = options.fieldManager ?? 'lifeboat';
    this.mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    this.jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
  }

  /** In a pod, its service account; elsewhere $KUBECONFIG or ~/.kube/config. */
  static fromEnvironment(options: KubeClientOptions = {}): KubeClient {
    const config = new (clientNode().KubeConfig)();
    config.loadFromDefault();
    // With nothing to load, the client falls back to http://localhost:8080, which is never right.
    const server = config.getCurrentCluster()?.server;
    if (!server || server === 'http://localhost:8080') throw noClusterError();
    return new KubeClient(config, options);
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isAbort(err)) {
        throw new KubeApiError(`${what}: no answer from the API server within ${this.timeoutMs / 1000} s`, 0, {
          cause: err,
        });
      }
      throw apiError(what, err, this.config);
    }
  }

  /** A Lifeboat object as stored, or undefined when it does not exist. */
  async getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown> {
    const plural = KIND_PLURALS[kind];
    return unlessNotFound(
      this.call(`get ${plural}.${GROUP} ${namespace}/${name}`, () =>
        this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name }),
      ),
    );
  }

  /** Creates a Lifeboat object as given; KubeConflictError when one of that name exists. */
  async createLifeboat(kind: LifeboatKind, namespace: string, body: object): Promise<unknown> {
    const plural = KIND_PLURALS[kind];
    const name = (body as { metadata?: { name?: string } }).metadata?.name ?? '';
    return this.call(`create ${plural}.${GROUP} ${namespace}/${name}`, () =>
      this.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, body }),
    );
  }

  /**
   * Deletes a Lifeboat object, only if it is still the one of `uid` (a precondition: an object
   * re-created under the same name is left alone, KubeConflictError). One already gone is not an error.
   */
  async deleteLifeboat(kind: LifeboatKind, namespace: string, name: string, uid: string): Promise<void> {
    const plural = KIND_PLURALS[kind];
    await unlessNotFound(
      this.call(`delete ${plural}.${GROUP} ${namespace}/${name}`, () =>
        this.custom.deleteNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural,
          name,
          body: { preconditions: { uid } },
        }),
      ),
    );
  }

  /** Every object of a kind, in one namespace or all, with the resourceVersion to watch from. */
  async listLifeboat(kind: LifeboatKind, namespace?: string): Promise<LifeboatList> {
    const base = { group: GROUP, version: VERSION, plural: KIND_PLURALS[kind], limit: LIST_PAGE };
    return listAllPages(
      (token) =>
        this.call(`list ${describeKind(kind, namespace)}`, () =>
          namespace
            ? this.custom.listNamespacedCustomObject({ ...base, _continue: token, namespace })
            : this.custom.listClusterCustomObject({ ...base, _continue: token }),
        ) as Promise<ListPage | undefined>,
    );
  }

  /** See watchLifeboat in kube-watch.ts. */
  watchLifeboat(
    request: WatchRequest,
    onEvent: (type: WatchEventType, object: unknown) => void,
    onDone: (err: KubeApiError | undefined) => void,
  ): Promise<WatchHandle> {
    return watchLifeboat(this.config, request, onEvent, onDone);
  }

  /**
   * Merge-patches the status subresource, guarded by the resourceVersion read: a KubeConflictError
   * means the object changed in between. Returns the object as stored afterwards.
   */
  async patchLifeboatStatus(kind: LifeboatKind, namespace: string, name: string, patch: StatusPatch): Promise<unknown> {
    const plural = KIND_PLURALS[kind];
    const body = { metadata: { resourceVersion: patch.resourceVersion }, status: patch.status };
    const request = { group: GROUP, version: VERSION, namespace, plural, name, body, fieldManager: this.fieldManager };
    return this.call(`patch the status of ${plural}.${GROUP} ${namespace}/${name}`, () =>
      this.custom.patchNamespacedCustomObjectStatus(request, this.mergePatch),
    );
  }

  /**
   * Sets metadata.finalizers to exactly `finalizers` (a JSON merge patch), guarded by the
   * resourceVersion read: KubeConflictError when the object changed since, or is another object of
   * that name. Returns the object as stored afterwards (undefined once the last finalizer of a
   * deleted object is gone and it is removed, or when it no longer exists).
   */
  async patchLifeboatFinalizers(
    kind: LifeboatKind,
    namespace: string,
    name: string,
    finalizers: readonly string[],
    resourceVersion: string,
  ): Promise<unknown> {
    const plural = KIND_PLURALS[kind];
    const body = { metadata: { resourceVersion, finalizers } };
    const request = { group: GROUP, version: VERSION, namespace, plural, name, body, fieldManager: this.fieldManager };
    return unlessNotFound(
      this.call(`patch the finalizers of ${plural}.${GROUP} ${namespace}/${name}`, () =>
        this.custom.patchNamespacedCustomObject(request, this.mergePatch),
      ),
    );
  }

  /** Pods of a namespace whose labels match the selector (`app=db,role in (writer)`). */
  async listPods(namespace: string, labelSelector: LabelSelectorQuery): Promise<V1Pod[]> {
    const list = await this.call(`list Pods in ${namespace} matching ${labelSelector}`, () =>
      this.core.listNamespacedPod({ namespace, labelSelector }),
    );
    return list.items;
  }

  async createEvent(namespace: string, event: CoreV1Event): Promise<void> {
    const about = `${event.involvedObject.kind ?? ''} ${namespace}/${event.involvedObject.name ?? ''}`;
    await this.call(`create Event ${event.reason ?? ''} for ${about}`, () =>
      this.core.createNamespacedEvent({ namespace, body: event }),
    );
  }

  async getLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    const lease = await unlessNotFound(
      this.call(`read Lease ${namespace}/${name}`, () => this.coordination.readNamespacedLease({ namespace, name })),
    );
    return lease && toLeaseRecord(lease);
  }

  /** Creates the Lease; KubeConflictError when it already exists. */
  async createLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    const body = toLease(namespace, name, { ...record, resourceVersion: undefined });
    const created = await this.call(`create Lease ${namespace}/${name}`, () =>
      this.coordination.createNamespacedLease({ namespace, body }),
    );
    return toLeaseRecord(created);
  }

  /**
   * Replaces the Lease read at `record.resourceVersion`; KubeConflictError when it changed since.
   * Without a resourceVersion the replace is unconditional; KubeNotFoundError when there is none.
   */
  async replaceLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    const body = toLease(namespace, name, record);
    const replaced = await this.call(`replace Lease ${namespace}/${name}`, () =>
      this.coordination.replaceNamespacedLease({ namespace, name, body }),
    );
    return toLeaseRecord(replaced);
  }

  /** Deletes the Lease; one already gone is not an error. */
  async deleteLease(namespace: string, name: string): Promise<void> {
    await unlessNotFound(
      this.call(`delete Lease ${namespace}/${name}`, () =>
        this.coordination.deleteNamespacedLease({ namespace, name }),
      ),
    );
  }

  /** Creates the Job; KubeConflictError when one of that name exists. */
  async createJob(namespace: string, job: V1Job): Promise<void> {
    await this.call(`create Job ${namespace}/${job.metadata?.name ?? ''}`, () =>
      this.batch.createNamespacedJob({ namespace, body: job }),
    );
  }

  async readJob(namespace: string, name: string): Promise<V1Job | undefined> {
    return unlessNotFound(
      this.call(`read Job ${namespace}/${name}`, () => this.batch.readNamespacedJob({ namespace, name })),
    );
  }

  /**
   * Deletes the Job and, in the background, its pods (each gets SIGTERM and its grace period).
   * A Job already gone is not an error.
   */
  async deleteJob(namespace: string, name: string): Promise<void> {
    await unlessNotFound(
      this.call(`delete Job ${namespace}/${name}`, () =>
        this.batch.deleteNamespacedJob({ namespace, name, propagationPolicy: 'Background' }),
      ),
    );
  }

  /** Proves the API server answers and Lifeboat may read its kinds (what readiness means). */
  async checkAccess(): Promise<void> {
    await this.call(`list clusters.${GROUP}`, () =>
      this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: KIND_PLURALS.Cluster, limit: 1 }),
    );
  }

  /**
   * Sets `caBundle` on every webhook of a configuration. The patch is guarded by the
   * resourceVersion, so it never overwrites a change made in between. Returns whether it changed.
   */
  async injectCaBundle(kind: WebhookConfigurationKind, name: string, caPem: string): Promise<boolean> {
    const what = `${kind} ${name}`;
    const api = this.admission;
    const current = await this.call(`read ${what}`, () =>
      kind === 'MutatingWebhookConfiguration'
        ? api.readMutatingWebhookConfiguration({ name })
        : api.readValidatingWebhookConfiguration({ name }),
    );
    const bundle = Buffer.from(caPem).toString('base64');
    const webhooks = current.webhooks ?? [];
    if (webhooks.every((w) => w.clientConfig.caBundle === bundle)) return false;
    const body = [
      { op: 'test', path: '/metadata/resourceVersion', value: current.metadata?.resourceVersion },
      ...webhooks.map((_, i) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: bundle })),
    ];
    await this.call(`patch ${what}`, () =>
      kind === 'MutatingWebhookConfiguration'
        ? api.patchMutatingWebhookConfiguration({ name, body }, this.jsonPatch)
        : api.patchValidatingWebhookConfiguration({ name, body }, this.jsonPatch),
    );
    return true;
  }

  /** A Namespace's labels (the webhook's IAM-role policy reads them), or undefined when it does not exist. */
  async readNamespaceLabels(name: string): Promise<Readonly<Record<string, string>> | undefined> {
    const namespace = await unlessNotFound(
      this.call(`read Namespace ${name}`, () => this.core.readNamespace({ name })),
    );
    return namespace && (namespace.metadata?.labels ?? {});
  }

  async readSecret(namespace: string, name: string): Promise<StoredSecret | undefined> {
    const secret = await unlessNotFound(
      this.call(`read Secret ${namespace}/${name}`, () => this.core.readNamespacedSecret({ namespace, name })),
    );
    return secret && storedSecret(secret);
  }

  /** Creates the Secret, or replaces it when `resourceVersion` names the version read. */
  async writeSecret(
    namespace: string,
    name: string,
    data: Readonly<Record<string, string>>,
    resourceVersion?: string,
  ): Promise<void> {
    const body = { metadata: { name, namespace, resourceVersion }, type: 'Opaque', data: encode(data) };
    const what = `${resourceVersion ? 'replace' : 'create'} Secret ${namespace}/${name}`;
    await this.call(what, () =>
      resourceVersion
        ? this.core.replaceNamespacedSecret({ namespace, name, body })
        : this.core.createNamespacedSecret({ namespace, body }),
    );
  }
}

/** One page of a list, as the API server answers it. */
export interface ListPage {
  readonly items?: unknown[];
  readonly metadata?: { resourceVersion?: string; continue?: string };
}

/** Every item of a paged list, and the resourceVersion of its last page (what a watch starts from). */
export async function listAllPages(
  page: (token: string | undefined) => Promise<ListPage | undefined>,
): Promise<LifeboatList> {
  const items: unknown[] = [];
  let token: string | undefined;
  let resourceVersion = '';
  do {
    const got = await page(token);
    items.push(...(got?.items ?? []));
    resourceVersion = got?.metadata?.resourceVersion ?? resourceVersion;
    token = got?.metadata?.continue || undefined;
  } while (token);
  return { items, resourceVersion };
}

// The one Kubernetes client wrapper: the few calls Lifeboat makes, with errors that say what to fix.
// Everything else (webhook, runner) goes through here, never through @kubernetes/client-node itself.
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { GROUP, KIND_PLURALS, VERSION } from '../crds/api-constants.js';
import type { LifeboatKind } from '../crds/kinds.js';

/** A call to the API server failed; `code` is the HTTP status (0 when the server was not reached). */
export class KubeApiError extends Error {
  readonly reason = 'KubeApiError';
  constructor(
    message: string,
    readonly code: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KubeApiError';
  }
}

/** The object is not there (404). */
export class KubeNotFoundError extends KubeApiError {}
/** Someone else changed or created the object first (409); re-read and try again. */
export class KubeConflictError extends KubeApiError {}

export type WebhookConfigurationKind = 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration';

export interface StoredSecret {
  /** Decoded values; never log them. */
  readonly data: Readonly<Record<string, string>>;
  readonly resourceVersion: string;
}

function statusMessage(body: unknown): string | undefined {
  const parsed: unknown = typeof body === 'string' ? safeJson(body) : body;
  const message = (parsed as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Turns whatever the client threw into a KubeApiError that names the call. */
function apiError(what: string, err: unknown): KubeApiError {
  if (err instanceof ApiException) {
    const code = (err as ApiException<unknown>).code;
    const detail = statusMessage((err as ApiException<unknown>).body) ?? `HTTP ${code}`;
    const message = `${what}: ${detail}`;
    if (code === 404) return new KubeNotFoundError(message, code, { cause: err });
    if (code === 409) return new KubeConflictError(message, code, { cause: err });
    return new KubeApiError(message, code, { cause: err });
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new KubeApiError(`${what}: the API server could not be reached (${detail})`, 0, { cause: err });
}

function encode(data: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
}

function decode(data: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
}

export class KubeClient {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;

  constructor(readonly config: KubeConfig) {
    this.custom = config.makeApiClient(CustomObjectsApi);
    this.core = config.makeApiClient(CoreV1Api);
    this.admission = config.makeApiClient(AdmissionregistrationV1Api);
  }

  /** In a pod, its service account; elsewhere $KUBECONFIG or ~/.kube/config. */
  static fromEnvironment(): KubeClient {
    const config = new KubeConfig();
    config.loadFromDefault();
    // With nothing to load, the client falls back to http://localhost:8080, which is never right.
    const server = config.getCurrentCluster()?.server;
    if (!server || server === 'http://localhost:8080') {
      throw new KubeApiError('no Kubernetes cluster configured: set KUBECONFIG, or run inside a pod', 0);
    }
    return new KubeClient(config);
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw apiError(what, err);
    }
  }

  /** A Lifeboat object as stored, or undefined when it does not exist. */
  async getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown> {
    const plural = KIND_PLURALS[kind];
    try {
      return await this.call(`get ${plural}.${GROUP} ${namespace}/${name}`, () =>
        this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name }),
      );
    } catch (err) {
      if (err instanceof KubeNotFoundError) return undefined;
      throw err;
    }
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
    const options = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
    await this.call(`patch ${what}`, () =>
      kind === 'MutatingWebhookConfiguration'
        ? api.patchMutatingWebhookConfiguration({ name, body }, options)
        : api.patchValidatingWebhookConfiguration({ name, body }, options),
    );
    return true;
  }

  async readSecret(namespace: string, name: string): Promise<StoredSecret | undefined> {
    try {
      const secret = await this.call(`read Secret ${namespace}/${name}`, () =>
        this.core.readNamespacedSecret({ namespace, name }),
      );
      return { data: decode(secret.data), resourceVersion: secret.metadata?.resourceVersion ?? '' };
    } catch (err) {
      if (err instanceof KubeNotFoundError) return undefined;
      throw err;
    }
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

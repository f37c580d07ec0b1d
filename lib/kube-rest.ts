// A light transport for the worker's and the runner's calls: plain HTTP(S) requests over one
// keep-alive agent, with KubeClient's results and error classes. It exists for memory and speed: a
// process that loads @kubernetes/client-node starts at ~115 MiB before it does anything, and
// client-node makes a new agent, so a new TLS connection and handshake, for every request (a
// minute's 1,000 scheduled Backups were created at ~45 a second through it, ~115 through one
// agent). When the connection needs what only client-node can do (see kube-connection.ts), the
// worker and the runner get a KubeClient instead.
import type { LabelSelectorQuery } from './label-selector.js';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { CoreV1Event, V1Job, V1Lease, V1Pod, V1PodList, V1Secret } from '@kubernetes/client-node';
import { GROUP, KIND_PLURALS } from '../crds/api-constants.js';
import type { LifeboatKind } from '../crds/kinds.js';
import { bearerToken, resolveConnection, type KubeConnection } from './kube-connection.js';
import { leaseBody, toLeaseRecord, type LeaseRecord } from './kube-lease.js';
import {
  KubeClient,
  listAllPages,
  storedSecret,
  type KubeClientOptions,
  type LifeboatList,
  type ListPage,
  type StatusPatch,
  type StoredSecret,
  type WatchHandle,
  type WatchRequest,
} from './kube-client.js';
import { apiError, KubeApiError, statusError, unlessNotFound } from './kube-errors.js';
import { streamWatch } from './kube-rest-watch.js';
import { describeKind, lifeboatPath, type WatchEventType } from './kube-watch.js';

/** The worker's calls, which both transports make with the same results and errors. */
export type KubeRestCalls = Pick<
  KubeClient,
  | 'getLifeboat'
  | 'patchLifeboatStatus'
  | 'createEvent'
  | 'readSecret'
  | 'listPods'
  | 'getLease'
  | 'createLease'
  | 'replaceLease'
  | 'deleteLease'
>;

/** The runner's calls: the worker's and these, again the same through both transports. */
export type RunnerKubeCalls = KubeRestCalls &
  Pick<
    KubeClient,
    | 'createLifeboat'
    | 'deleteLifeboat'
    | 'listLifeboat'
    | 'watchLifeboat'
    | 'patchLifeboatFinalizers'
    | 'createJob'
    | 'readJob'
    | 'deleteJob'
  >;

export interface KubeRestOptions extends KubeClientOptions {
  /** A request with no answer after this long fails (code 0). Default 60 s. */
  readonly timeoutMs?: number;
}

interface Call {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  readonly contentType?: string;
}

const MERGE_PATCH = 'application/merge-patch+json';
const LIST_PAGE = 500;
// The worker's calls come in bursts (at the start, when the source is chosen, at the end, maybe
// hours later): a connection is kept only for the burst, so that the final status is never sent
// on one the server or a load balancer has dropped in the meantime.
const IDLE_CONNECTION_MS = 5_000;

export class KubeRestClient implements RunnerKubeCalls {
  private readonly agent: HttpAgent;
  /** Watches: each holds its connection for minutes, so none comes from (or goes back to) the pool. */
  private readonly watchAgent: HttpAgent;
  private readonly fieldManager: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly connection: KubeConnection,
    options: KubeRestOptions = {},
  ) {
    this.fieldManager = options.fieldManager ?? 'lifeboat';
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.agent = agentFor(connection, { keepAlive: true, timeout: IDLE_CONNECTION_MS });
    this.watchAgent = agentFor(connection, { keepAlive: false });
  }

  /** Creates a Lifeboat object as given; KubeConflictError when one of that name exists. */
  async createLifeboat(kind: LifeboatKind, namespace: string, body: object): Promise<unknown> {
    const name = (body as { metadata?: { name?: string } }).metadata?.name ?? '';
    const what = `create ${KIND_PLURALS[kind]}.${GROUP} ${namespace}/${name}`;
    return this.send(what, { method: 'POST', path: lifeboatPath(kind, encodeURIComponent(namespace)), body });
  }

  /** Deletes the object only while it is the one of `uid`; one already gone is not an error. */
  async deleteLifeboat(kind: LifeboatKind, namespace: string, name: string, uid: string): Promise<void> {
    const what = `delete ${KIND_PLURALS[kind]}.${GROUP} ${namespace}/${name}`;
    const path = objectPath(kind, namespace, name);
    await unlessNotFound(this.send(what, { method: 'DELETE', path, body: { preconditions: { uid } } }));
  }

  async listLifeboat(kind: LifeboatKind, namespace?: string): Promise<LifeboatList> {
    return listAllPages((token) => {
      const query = new URLSearchParams({ limit: String(LIST_PAGE), ...(token ? { continue: token } : {}) });
      const path = `${lifeboatPath(kind, namespace && encodeURIComponent(namespace))}?${query}`;
      return this.send(`list ${describeKind(kind, namespace)}`, { method: 'GET', path }) as Promise<
        ListPage | undefined
      >;
    });
  }

  /** As KubeClient's (kube-watch.ts): `onDone` once, with KubeGoneError when the version is too old. */
  watchLifeboat(
    request: WatchRequest,
    onEvent: (type: WatchEventType, object: unknown) => void,
    onDone: (err: KubeApiError | undefined) => void,
  ): Promise<WatchHandle> {
    const query = new URLSearchParams({
      watch: 'true',
      resourceVersion: request.resourceVersion,
      allowWatchBookmarks: 'true',
      ...(request.timeoutSeconds === undefined ? {} : { timeoutSeconds: String(request.timeoutSeconds) }),
    });
    const path = `${lifeboatPath(request.kind, request.namespace && encodeURIComponent(request.namespace))}?${query}`;
    const url = new URL(`${this.connection.server}${path}`);
    return streamWatch(
      {
        url,
        what: `watch ${describeKind(request.kind, request.namespace)}`,
        request: url.protocol === 'https:' ? httpsRequest : httpRequest,
        // No timeout: the API server ends the watch after timeoutSeconds, and the informer gives up on one silent longer.
        options: { method: 'GET', headers: this.headers({ method: 'GET', path }), agent: this.watchAgent },
      },
      onEvent,
      onDone,
    );
  }

  /** Sets metadata.finalizers to exactly `finalizers`, guarded by the resourceVersion (see KubeClient). */
  async patchLifeboatFinalizers(
    kind: LifeboatKind,
    namespace: string,
    name: string,
    finalizers: readonly string[],
    resourceVersion: string,
  ): Promise<unknown> {
    const what = `patch the finalizers of ${KIND_PLURALS[kind]}.${GROUP} ${namespace}/${name}`;
    const query = new URLSearchParams({ fieldManager: this.fieldManager });
    const body = { metadata: { resourceVersion, finalizers } };
    const path = `${objectPath(kind, namespace, name)}?${query}`;
    return unlessNotFound(this.send(what, { method: 'PATCH', path, body, contentType: MERGE_PATCH }));
  }

  async createJob(namespace: string, job: V1Job): Promise<void> {
    const what = `create Job ${namespace}/${job.metadata?.name ?? ''}`;
    await this.send(what, { method: 'POST', path: jobPath(namespace), body: job });
  }

  /** The Job as JSON: its times stay strings (the executor reads them through new Date()). */
  async readJob(namespace: string, name: string): Promise<V1Job | undefined> {
    const what = `read Job ${namespace}/${name}`;
    return (await unlessNotFound(this.send(what, { method: 'GET', path: jobPath(namespace, name) }))) as
      V1Job | undefined;
  }

  /** Deletes the Job and, in the background, its pods; one already gone is not an error. */
  async deleteJob(namespace: string, name: string): Promise<void> {
    const path = `${jobPath(namespace, name)}?${new URLSearchParams({ propagationPolicy: 'Background' })}`;
    await unlessNotFound(this.send(`delete Job ${namespace}/${name}`, { method: 'DELETE', path }));
  }

  async getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown> {
    const what = `get ${KIND_PLURALS[kind]}.${GROUP} ${namespace}/${name}`;
    return unlessNotFound(this.send(what, { method: 'GET', path: objectPath(kind, namespace, name) }));
  }

  async patchLifeboatStatus(kind: LifeboatKind, namespace: string, name: string, patch: StatusPatch): Promise<unknown> {
    const what = `patch the status of ${KIND_PLURALS[kind]}.${GROUP} ${namespace}/${name}`;
    const query = new URLSearchParams({ fieldManager: this.fieldManager });
    return this.send(what, {
      method: 'PATCH',
      path: `${objectPath(kind, namespace, name)}/status?${query}`,
      body: { metadata: { resourceVersion: patch.resourceVersion }, status: patch.status },
      contentType: MERGE_PATCH,
    });
  }

  async listPods(namespace: string, labelSelector: LabelSelectorQuery): Promise<V1Pod[]> {
    const query = new URLSearchParams({ labelSelector });
    const path = `${corePath(namespace, 'pods')}?${query}`;
    // Raw JSON, not client-node's classes: timestamps stay strings, which no caller reads.
    const list = (await this.send(`list Pods in ${namespace} matching ${labelSelector}`, { method: 'GET', path })) as
      V1PodList | undefined;
    return list?.items ?? [];
  }

  async createEvent(namespace: string, event: CoreV1Event): Promise<void> {
    const about = `${event.involvedObject.kind ?? ''} ${namespace}/${event.involvedObject.name ?? ''}`;
    const path = corePath(namespace, 'events');
    await this.send(`create Event ${event.reason ?? ''} for ${about}`, { method: 'POST', path, body: event });
  }

  async readSecret(namespace: string, name: string): Promise<StoredSecret | undefined> {
    const path = corePath(namespace, 'secrets', name);
    const secret = (await unlessNotFound(this.send(`read Secret ${namespace}/${name}`, { method: 'GET', path }))) as
      V1Secret | undefined;
    return secret && storedSecret(secret);
  }

  async getLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    const path = leasePath(namespace, name);
    const lease = (await unlessNotFound(this.send(`read Lease ${namespace}/${name}`, { method: 'GET', path }))) as
      V1Lease | undefined;
    return lease && toLeaseRecord(lease);
  }

  async createLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    const body = leaseBody(namespace, name, { ...record, resourceVersion: undefined });
    const path = leasePath(namespace);
    return toLeaseRecord(
      (await this.send(`create Lease ${namespace}/${name}`, { method: 'POST', path, body })) as V1Lease,
    );
  }

  async replaceLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    const body = leaseBody(namespace, name, record);
    const path = leasePath(namespace, name);
    return toLeaseRecord(
      (await this.send(`replace Lease ${namespace}/${name}`, { method: 'PUT', path, body })) as V1Lease,
    );
  }

  async deleteLease(namespace: string, name: string): Promise<void> {
    const path = leasePath(namespace, name);
    await unlessNotFound(this.send(`delete Lease ${namespace}/${name}`, { method: 'DELETE', path }));
  }

  /** One request; the parsed JSON answer, or the KubeApiError that names the call. */
  private async send(what: string, call: Call): Promise<unknown> {
    const headers = this.headers(call);
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    // Said outright: Node sends a DELETE's body neither chunked nor with a length unless told.
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
    const url = new URL(`${this.connection.server}${call.path}`);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, { method: call.method, headers, agent: this.agent, timeout: this.timeoutMs }, (res) =>
        answer(what, res).then(resolve, (err: unknown) => reject(apiError(what, err))),
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs / 1000} s`)));
      req.on('error', (err) => reject(apiError(what, err)));
      req.end(body);
    });
  }

  private headers(call: Call): OutgoingHttpHeaders {
    const headers: OutgoingHttpHeaders = { accept: 'application/json' };
    if (call.body !== undefined) headers['content-type'] = call.contentType ?? 'application/json';
    const token = bearerToken(this.connection);
    if (token) headers['authorization'] = `Bearer ${token}`;
    return headers;
  }
}

function objectPath(kind: LifeboatKind, namespace: string, name: string): string {
  return `${lifeboatPath(kind, encodeURIComponent(namespace))}/${encodeURIComponent(name)}`;
}

function agentFor(connection: KubeConnection, options: { keepAlive: boolean; timeout?: number }): HttpAgent {
  if (!connection.server.startsWith('https:')) return new HttpAgent(options);
  return new HttpsAgent({
    ...options,
    ca: connection.ca,
    cert: connection.cert,
    key: connection.key,
    rejectUnauthorized: !connection.insecureSkipTlsVerify,
    servername: connection.tlsServerName,
  });
}

function jobPath(namespace: string, name?: string): string {
  const base = `/apis/batch/v1/namespaces/${encodeURIComponent(namespace)}/jobs`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

function leasePath(namespace: string, name?: string): string {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

function corePath(namespace: string, plural: string, name?: string): string {
  const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/${plural}`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

/** The body as JSON for a 2xx answer; for any other, the error its status and Status message make. */
async function answer(what: string, res: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const code = res.statusCode ?? 0;
  if (code < 200 || code >= 300) throw statusError(what, code, text);
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new KubeApiError(`${what}: the API server answered HTTP ${code} with a body that is not JSON`, code, {
      cause: err,
    });
  }
}

/**
 * The client for the worker's and the runner's calls: a KubeRestClient where the connection allows
 * it, else a KubeClient (which loads @kubernetes/client-node), after telling `onFullClient` why.
 */
export function restClientFromEnvironment(
  options: KubeRestOptions = {},
  onFullClient: (why: string) => void = () => undefined,
): RunnerKubeCalls {
  const choice = resolveConnection();
  if (choice.kind === 'direct') return new KubeRestClient(choice.connection, options);
  onFullClient(choice.why);
  return KubeClient.fromEnvironment(options);
}

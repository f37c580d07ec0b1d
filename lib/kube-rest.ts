// A light transport for the backup worker's few calls: plain HTTP(S) requests over one keep-alive
// agent, with KubeClient's results and error classes. It exists for memory: a worker that loads
// @kubernetes/client-node starts at ~115 MiB before it moves a byte. When the connection needs what
// only client-node can do (see kube-connection.ts), the worker gets a KubeClient instead.
import type { LabelSelectorQuery } from './label-selector.js';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { CoreV1Event, V1Lease, V1Pod, V1PodList, V1Secret } from '@kubernetes/client-node';
import { GROUP, KIND_PLURALS } from '../crds/api-constants.js';
import type { LifeboatKind } from '../crds/kinds.js';
import { bearerToken, resolveConnection, type KubeConnection } from './kube-connection.js';
import { leaseBody, toLeaseRecord, type LeaseRecord } from './kube-lease.js';
import {
  KubeClient,
  storedSecret,
  type KubeClientOptions,
  type StatusPatch,
  type StoredSecret,
} from './kube-client.js';
import { apiError, KubeApiError, statusError, unlessNotFound } from './kube-errors.js';
import { lifeboatPath } from './kube-watch.js';

/** The calls both transports make, with the same results and errors. */
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
// The worker's calls come in bursts (at the start, when the source is chosen, at the end, maybe
// hours later): a connection is kept only for the burst, so that the final status is never sent
// on one the server or a load balancer has dropped in the meantime.
const IDLE_CONNECTION_MS = 5_000;

export class KubeRestClient implements KubeRestCalls {
  private readonly agent: HttpAgent;
  private readonly fieldManager: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly connection: KubeConnection,
    options: KubeRestOptions = {},
  ) {
    this.fieldManager = options.fieldManager ?? 'lifeboat';
    this.timeoutMs = options.timeoutMs ?? 60_000;
    const keep = { keepAlive: true, timeout: IDLE_CONNECTION_MS };
    this.agent = connection.server.startsWith('https:')
      ? new HttpsAgent({
          ...keep,
          ca: connection.ca,
          cert: connection.cert,
          key: connection.key,
          rejectUnauthorized: !connection.insecureSkipTlsVerify,
          servername: connection.tlsServerName,
        })
      : new HttpAgent(keep);
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
 * The client for the worker's calls: a KubeRestClient where the connection allows it, else a
 * KubeClient (which loads @kubernetes/client-node), after telling `onFullClient` why.
 */
export function restClientFromEnvironment(
  options: KubeRestOptions = {},
  onFullClient: (why: string) => void = () => undefined,
): KubeRestCalls {
  const choice = resolveConnection();
  if (choice.kind === 'direct') return new KubeRestClient(choice.connection, options);
  onFullClient(choice.why);
  return KubeClient.fromEnvironment(options);
}

// The webhook over real HTTPS (127.0.0.1, a self-signed certificate) with a fake ObjectSource: the
// answers the API server gets, what a client's mistake gets back, and what is logged and counted.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import type { Server } from 'node:https';
import tls from 'node:tls';
import { gzipSync } from 'node:zlib';
import jsonPatch, { type Operation } from 'fast-json-patch';
import type { LifeboatKind } from '../../crds/kinds.js';
import { createLogger } from '../../lib/logger.js';
import { DEFAULT_SETTINGS } from '../../policies/policy-types.js';
import type { ObjectSource } from '../../webhook/api-neighbours.js';
import { generateSelfSigned, type TlsBundle } from '../../webhook/self-signed-ca.js';
import { MAX_BODY_BYTES, webhookApp } from '../../webhook/webhook-app.js';
import { createWebhookMetrics } from '../../webhook/webhook-metrics.js';
import { boundPort, DEFAULT_TIMEOUTS, listenHttps, type ServerTimeouts } from '../../webhook/webhook-server.js';
import { backup, cluster } from '../helpers.js';

type Doc = Record<string, unknown>;

/** The API server's answers, from a list; counts reads and forgets, and can be told to fail. */
class FakeSource implements ObjectSource {
  readonly calls: string[] = [];
  readonly forgotten: string[] = [];
  failure: Error | undefined;

  constructor(private readonly objects: readonly Doc[]) {}

  async getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown> {
    this.calls.push(`${kind} ${namespace}/${name}`);
    if (this.failure) throw this.failure;
    return this.objects.find((o) => {
      const meta = o['metadata'] as { name: string; namespace: string };
      return o['kind'] === kind && meta.namespace === namespace && meta.name === name;
    });
  }

  forget(kind: LifeboatKind, namespace: string, name: string): void {
    this.forgotten.push(`${kind} ${namespace}/${name}`);
  }
}

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

interface Webhook {
  readonly port: number;
  readonly source: FakeSource;
  readonly log: LogLine[];
  /** What /readyz reports: undefined is ready. */
  readonly readiness: { problem: string | undefined };
  send(method: string, path: string, body?: string | Buffer, headers?: Record<string, string>): Promise<Reply>;
  stop(): Promise<void>;
}

const ERROR_LEVEL = 50;
const INFO_LEVEL = 30;
const WARN_LEVEL = 40;

const SHOP = { ...cluster(), metadata: { name: 'shop', namespace: 'shop' } };

/** The app as `lifeboat webhook` serves it, on 127.0.0.1 and a free port, logging into memory. */
async function serve(bundle: TlsBundle, timeouts: ServerTimeouts = DEFAULT_TIMEOUTS): Promise<Webhook> {
  const source = new FakeSource([SHOP]);
  const log: LogLine[] = [];
  const logger = createLogger('webhook', { write: (line: string) => log.push(JSON.parse(line) as LogLine) });
  logger.level = 'info';
  const readiness: Webhook['readiness'] = { problem: undefined };
  const app = webhookApp({
    source,
    settings: DEFAULT_SETTINGS,
    metrics: createWebhookMetrics({ processMetrics: false }),
    log: logger,
    notReady: () => readiness.problem,
  });
  const server = await listenHttps(app, { host: '127.0.0.1', port: 0 }, bundle, timeouts);
  const agent = new https.Agent({ keepAlive: true });
  const port = boundPort(server);
  return {
    port,
    source,
    log,
    readiness,
    send: (method, path, body, headers = {}) =>
      request({ port, agent, ca: bundle.caCert }, method, path, body, headers),
    stop: () => stopServer(server, agent),
  };
}

async function stopServer(server: Server, agent: https.Agent): Promise<void> {
  agent.destroy();
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
}

function request(
  to: { port: number; agent: https.Agent; ca: string },
  method: string,
  path: string,
  body: string | Buffer | undefined,
  headers: Record<string, string>,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const length = method === 'GET' ? {} : { 'content-length': String(Buffer.byteLength(body ?? '')) };
    const req = https.request(
      {
        host: '127.0.0.1',
        ...to,
        method,
        path,
        headers: { 'content-type': 'application/json', ...length, ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'] ?? '',
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const UID = 'e911857d-c318-11e8-bbad-025000000001';

function reviewBody(object: unknown, request: Doc = {}): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: UID,
      kind: { group: 'lifeboat.dev', version: 'v1alpha1', kind: 'Backup' },
      namespace: 'shop',
      name: 'shop-manual',
      operation: 'CREATE',
      object,
      ...request,
    },
  });
}

interface ReviewAnswer {
  readonly apiVersion: string;
  readonly kind: string;
  readonly response: {
    readonly uid: string;
    readonly allowed: boolean;
    readonly status?: { code: number; reason?: string; message: string };
    readonly patchType?: string;
    readonly patch?: string;
    readonly warnings?: string[];
  };
}

function answerOf(reply: Reply): ReviewAnswer['response'] {
  assert.equal(reply.status, 200, reply.text);
  assert.match(reply.contentType, /^application\/json/);
  const answer = JSON.parse(reply.text) as ReviewAnswer;
  assert.equal(answer.apiVersion, 'admission.k8s.io/v1');
  assert.equal(answer.kind, 'AdmissionReview');
  return answer.response;
}

/** One sample of the Prometheus text, matched on its name and exactly its labels, in any order. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (JSON.stringify(Object.entries(found).sort()) === JSON.stringify(Object.entries(labels).sort())) {
      return Number(m[3]);
    }
  }
  return undefined;
}

function errorsIn(log: readonly LogLine[]): LogLine[] {
  return log.filter((line) => line.level >= ERROR_LEVEL);
}

interface Mistake {
  readonly what: string;
  readonly path: '/mutate' | '/validate';
  readonly body: () => string | Buffer | undefined;
  readonly headers?: Record<string, string>;
  readonly code: number;
  readonly message: RegExp;
}

const MISTAKES: readonly Mistake[] = [
  {
    what: 'a body that is not JSON',
    path: '/validate',
    body: () => 'this is not json',
    code: 400,
    message: /^the body is not JSON \(.*"this is not json" is not valid JSON\); send an AdmissionReview$/,
  },
  {
    what: 'an admission.k8s.io/v1beta1 review',
    path: '/mutate',
    body: () => JSON.stringify({ ...JSON.parse(reviewBody(backup())), apiVersion: 'admission.k8s.io/v1beta1' }),
    code: 400,
    message: /^not an admission\.k8s\.io\/v1 AdmissionReview: apiVersion must be "admission\.k8s\.io\/v1"$/,
  },
  {
    what: 'a review without request.uid',
    path: '/validate',
    body: () => reviewBody(backup(), { uid: undefined }),
    code: 400,
    message: /^not an admission\.k8s\.io\/v1 AdmissionReview: request must have required property 'uid'$/,
  },
  {
    what: 'an empty body',
    path: '/mutate',
    body: () => undefined,
    code: 400,
    message: /^not an admission\.k8s\.io\/v1 AdmissionReview: the body must have required property 'apiVersion'$/,
  },
  {
    what: 'a 4 MiB body (over the 3 MiB the API server itself accepts)',
    path: '/validate',
    body: () => Buffer.alloc(4 * 1024 * 1024, 'x'),
    code: 413,
    message: new RegExp(`^the body is larger than ${MAX_BODY_BYTES} bytes; send one AdmissionReview$`),
  },
  {
    what: 'a charset other than UTF-8',
    path: '/validate',
    body: () => reviewBody(backup()),
    headers: { 'content-type': 'application/json; charset=latin1' },
    code: 415,
    message: /^unsupported charset "LATIN1"; send UTF-8 JSON$/,
  },
  {
    what: 'a body that says gzip but is not',
    path: '/validate',
    body: () => Buffer.concat([gzipSync(reviewBody(backup())).subarray(0, 20), Buffer.from('not gzip at all')]),
    headers: { 'content-encoding': 'gzip' },
    code: 400,
    message: /unexpected end of file/,
  },
];

async function sendMistake(webhook: Webhook, mistake: Mistake): Promise<Reply> {
  return webhook.send('POST', mistake.path, mistake.body(), mistake.headers);
}

describe('webhook app over HTTPS (fake source)', () => {
  let bundle: TlsBundle;
  let webhook: Webhook;

  before(() => {
    bundle = generateSelfSigned(['127.0.0.1']);
  });

  beforeEach(async () => {
    webhook = await serve(bundle);
  });

  afterEach(async () => {
    await webhook.stop();
  });

  it('mutate: a Backup CREATE gets a JSONPatch that gives it the Cluster objectStore; the uid is echoed', async () => {
    const object = backup();
    const response = answerOf(await webhook.send('POST', '/mutate', reviewBody(object)));
    assert.equal(response.uid, UID);
    assert.equal(response.allowed, true, JSON.stringify(response).slice(0, 300));
    assert.equal(response.patchType, 'JSONPatch');
    const ops = JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString()) as Operation[];
    const patched = jsonPatch.applyPatch(structuredClone(object), ops).newDocument as { spec: Doc };
    assert.deepEqual(patched.spec['objectStore'], { bucket: 'backups', inheritFromIAMRole: true });
    assert.deepEqual(webhook.source.calls, ['Cluster shop/shop']);
    assert.deepEqual(webhook.source.forgotten, [], 'only the validating call, the last word, forgets');
  });

  it('validate: a valid Backup CREATE is allowed, and the lookups forget the object being written', async () => {
    const response = answerOf(await webhook.send('POST', '/validate', reviewBody(backup())));
    assert.deepEqual(response, { uid: UID, allowed: true, warnings: [] });
    assert.deepEqual(webhook.source.forgotten, ['Backup shop/shop-manual']);
  });

  it('validate: an invalid object is denied in a 200 answer, status 403 with the policy ID and field', async () => {
    const response = answerOf(await webhook.send('POST', '/validate', reviewBody(backup({ compression: 'brotli' }))));
    assert.equal(response.uid, UID);
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 403);
    assert.equal(response.status?.reason, 'Forbidden');
    assert.match(response.status?.message ?? '', /^LB004 spec\.compression: "brotli" is not allowed/);
    const denied = webhook.log.find((line) => line.msg === 'denied');
    assert.equal(denied?.level, INFO_LEVEL);
    assert.equal(denied?.['uid'], UID);
  });

  it('a kind Lifeboat does not serve: denied naming LB005, not passed', async () => {
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' } };
    const body = reviewBody(deployment, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, name: 'web' });
    const response = answerOf(await webhook.send('POST', '/validate', body));
    assert.deepEqual(response, {
      uid: UID,
      allowed: false,
      status: {
        code: 403,
        reason: 'Forbidden',
        message:
          "LB005 (document): Lifeboat does not serve this object (sent as apps/v1 Deployment; it has apiVersion apps/v1, kind Deployment); fix the webhook configuration's rules",
      },
    });
    assert.deepEqual(webhook.source.calls, []);
    assert.deepEqual(webhook.source.forgotten, [], 'not a Lifeboat object: nothing to forget');
  });

  it('a source that throws: a 503 denial that says what to do, logged as a warning', async () => {
    webhook.source.failure = new Error('connect ECONNREFUSED 10.96.0.1:443');
    const response = answerOf(await webhook.send('POST', '/validate', reviewBody(backup())));
    assert.deepEqual(response, {
      uid: UID,
      allowed: false,
      status: {
        code: 503,
        reason: 'ServiceUnavailable',
        message:
          'Lifeboat could not check this Backup: connect ECONNREFUSED 10.96.0.1:443. Make sure the webhook can reach ' +
          'the API server and read lifeboat.dev objects, then apply again.',
      },
    });
    const warning = webhook.log.find((line) => line.msg === 'could not read a neighbour from the API server');
    assert.equal(warning?.level, WARN_LEVEL);
    assert.deepEqual(errorsIn(webhook.log), []);
  });

  describe('client mistakes: a Status naming the problem, logged at info, counted by code', () => {
    for (const mistake of MISTAKES) {
      it(`${mistake.what} → ${mistake.code}`, async () => {
        const reply = await sendMistake(webhook, mistake);
        assert.equal(reply.status, mistake.code, reply.text);
        assert.match(reply.contentType, /^application\/json/);
        const status = JSON.parse(reply.text) as { message: string };
        assert.deepEqual(
          { ...status, message: '' },
          {
            apiVersion: 'v1',
            kind: 'Status',
            status: 'Failure',
            code: mistake.code,
            message: '',
          },
        );
        assert.match(status.message, mistake.message);
        const logged = webhook.log.find((line) => line['problem'] === status.message);
        assert.equal(logged?.level, INFO_LEVEL, `the refusal is logged at info: ${JSON.stringify(webhook.log)}`);
        assert.deepEqual(errorsIn(webhook.log), []);
        const metrics = await webhook.send('GET', '/metrics');
        assert.equal(
          sample(metrics.text, 'lifeboat_admission_rejected_requests_total', { code: String(mistake.code) }),
          1,
        );
        assert.deepEqual(webhook.source.calls, [], 'a refused request reads nothing');
      });
    }
  });

  it('after every client mistake in a row, a good review is still answered and nothing was logged as an error', async () => {
    for (const mistake of MISTAKES) await sendMistake(webhook, mistake);
    const response = answerOf(await webhook.send('POST', '/validate', reviewBody(backup())));
    assert.deepEqual(response, { uid: UID, allowed: true, warnings: [] });
    assert.deepEqual(errorsIn(webhook.log), []);
  });

  it('the body limit fits real objects: at most 3 MiB, and a review of a 1 MiB object is judged', async () => {
    assert.ok(MAX_BODY_BYTES <= 3 * 1024 * 1024, `limit is ${MAX_BODY_BYTES} bytes`);
    const big = backup({}, { annotations: { note: 'x'.repeat(1024 * 1024) } });
    // Judged, not refused unread: the schema's own limit on an annotation answers it.
    const response = answerOf(await webhook.send('POST', '/validate', reviewBody(big)));
    assert.equal(response.uid, UID);
    assert.match(response.status?.message ?? '', /^LB004 metadata\.annotations\.note/);
  });

  it('GET /healthz: 200', async () => {
    const reply = await webhook.send('GET', '/healthz');
    assert.deepEqual([reply.status, reply.text], [200, 'ok\n']);
  });

  it('GET /readyz: 503 with the reason while not ready, then 200', async () => {
    webhook.readiness.problem = 'the CA has not been injected into the webhook configurations yet';
    const waiting = await webhook.send('GET', '/readyz');
    assert.deepEqual(
      [waiting.status, waiting.text],
      [503, 'not ready: the CA has not been injected into the webhook configurations yet\n'],
    );
    webhook.readiness.problem = undefined;
    const ready = await webhook.send('GET', '/readyz');
    assert.deepEqual([ready.status, ready.text], [200, 'ready\n']);
  });

  it('GET /metrics: reviews counted by webhook, kind, operation and verdict; refusals by code', async () => {
    await webhook.send('POST', '/mutate', reviewBody(backup()));
    await webhook.send('POST', '/validate', reviewBody(backup()));
    await webhook.send('POST', '/validate', reviewBody(backup({ compression: 'brotli' })));
    await webhook.send('POST', '/validate', 'not json');
    await webhook.send('POST', '/mutate', reviewBody(backup(), { uid: undefined }));
    const reply = await webhook.send('GET', '/metrics');
    assert.equal(reply.status, 200);
    assert.match(reply.contentType, /^text\/plain/);
    const count = (labels: Record<string, string>) => sample(reply.text, 'lifeboat_admission_requests_total', labels);
    const backupCreate = { kind: 'Backup', operation: 'CREATE' };
    assert.equal(count({ webhook: 'mutate', ...backupCreate, allowed: 'true' }), 1);
    assert.equal(count({ webhook: 'validate', ...backupCreate, allowed: 'true' }), 1);
    assert.equal(count({ webhook: 'validate', ...backupCreate, allowed: 'false' }), 1);
    assert.equal(count({ webhook: 'mutate', ...backupCreate, allowed: 'false' }), undefined);
    assert.equal(sample(reply.text, 'lifeboat_admission_rejected_requests_total', { code: '400' }), 2);
    assert.equal(sample(reply.text, 'lifeboat_admission_duration_seconds_count', { webhook: 'validate' }), 2);
  });

  it('an unknown path or method: 404 listing the endpoints', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', '/mutate'],
    ] as const) {
      const reply = await webhook.send(method, path);
      assert.equal(reply.status, 404);
      assert.deepEqual(JSON.parse(reply.text), {
        apiVersion: 'v1',
        kind: 'Status',
        status: 'Failure',
        code: 404,
        message: `no endpoint ${method} ${path}; Lifeboat serves POST /mutate, POST /validate, GET /healthz, GET /readyz, GET /metrics`,
      });
    }
  });

  it('a client that sends part of a header line and then nothing is dropped at the headers timeout', async () => {
    // The production timeouts (10 s, checked every second) scaled down, so the test takes a moment.
    const quick = await serve(bundle, { headersMs: 300, requestMs: 600, checkEveryMs: 50, keepAliveMs: 5_000 });
    const socket = tls.connect({ host: '127.0.0.1', port: quick.port, ca: bundle.caCert });
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    try {
      await once(socket, 'secureConnect');
      const sent = Date.now();
      socket.write('POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 3_000)));
      const outcome = await Promise.race([once(socket, 'close').then(() => 'closed' as const), late]);
      clearTimeout(timer);
      assert.equal(outcome, 'closed', 'the server still held the slow client 3 s after its last byte');
      assert.ok(Date.now() - sent >= 250, 'not dropped before the headers timeout');
      assert.match(received, /^HTTP\/1\.1 408 Request Timeout\r\n/);
      const response = answerOf(await quick.send('POST', '/validate', reviewBody(backup())));
      assert.equal(response.allowed, true, 'the server still answers a good review');
    } finally {
      socket.destroy();
      await quick.stop();
    }
  });
});

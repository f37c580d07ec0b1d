// The worker's light Kubernetes transport against a fake API server (HTTP and HTTPS on loopback):
// the requests it sends, the same results and errors as KubeClient, TLS, and a token that never
// shows in an error.
import { labelSelectorQuery } from '../../lib/label-selector.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { KubeClient } from '../../lib/kube-client.js';
import { KubeApiError, KubeConflictError, KubeNotFoundError } from '../../lib/kube-errors.js';
import { KubeRestClient, restClientFromEnvironment, type KubeRestCalls } from '../../lib/kube-rest.js';
import { generateSelfSigned, type TlsBundle } from '../../webhook/self-signed-ca.js';
import { FakeApiServer, json, kubeClientFor, outcome, restClientFor } from './fake-api-server.js';

const TOKEN = 'very-secret-token';
const BACKUP_PATH = '/apis/lifeboat.dev/v1alpha1/namespaces/shop/backups/b1';

describe('kube rest client (fake API server)', () => {
  let api: FakeApiServer;
  let url: string;
  let client: KubeRestClient;

  beforeEach(async () => {
    api = new FakeApiServer();
    url = await api.listen();
    client = restClientFor(url, { token: TOKEN });
  });
  afterEach(() => api.stop());

  it('gets a Lifeboat object, and reads a missing one as undefined', async () => {
    api.on(`GET ${BACKUP_PATH}`, (_s, res) => json(res, 200, { kind: 'Backup', metadata: { name: 'b1' } }));
    assert.deepEqual(await client.getLifeboat('Backup', 'shop', 'b1'), { kind: 'Backup', metadata: { name: 'b1' } });
    assert.equal(await client.getLifeboat('Backup', 'shop', 'gone'), undefined);
    assert.equal(api.seen[0]?.authorization, `Bearer ${TOKEN}`);
  });

  it('patches the status subresource as a merge patch carrying the resourceVersion', async () => {
    api.on(`PATCH ${BACKUP_PATH}/status`, (s, res) => json(res, 200, s.body));
    await client.patchLifeboatStatus('Backup', 'shop', 'b1', { status: { phase: 'running' }, resourceVersion: '41' });
    const [patch] = api.seen;
    assert.equal(patch?.contentType, 'application/merge-patch+json');
    assert.equal(patch?.url, `${BACKUP_PATH}/status?fieldManager=lifeboat-test`);
    assert.deepEqual(patch?.body, { metadata: { resourceVersion: '41' }, status: { phase: 'running' } });
  });

  it('sends the label selector encoded, and returns the pods', async () => {
    api.on('GET /api/v1/namespaces/shop/pods?', (_s, res) => json(res, 200, { items: [{ metadata: { name: 'p' } }] }));
    const pods = await client.listPods(
      'shop',
      labelSelectorQuery({
        matchLabels: { app: 'db' },
        matchExpressions: [
          { key: 'role', operator: 'In', values: ['writer'] },
          { key: 'canary', operator: 'DoesNotExist' },
        ],
      }),
    );
    assert.deepEqual(pods, [{ metadata: { name: 'p' } }]);
    const sent = new URL(`http://x${api.seen[0]?.url ?? ''}`);
    assert.equal(sent.searchParams.get('labelSelector'), 'app=db,role in (writer),!canary');
    assert.equal(sent.search, '?labelSelector=app%3Ddb%2Crole+in+%28writer%29%2C%21canary');
  });

  it('reads a Secret decoded, and a missing one as undefined', async () => {
    const body = { metadata: { resourceVersion: '7' }, data: { password: Buffer.from('pw').toString('base64') } };
    api.on('GET /api/v1/namespaces/shop/secrets/db', (_s, res) => json(res, 200, body));
    assert.deepEqual(await client.readSecret('shop', 'db'), { data: { password: 'pw' }, resourceVersion: '7' });
    assert.equal(await client.readSecret('shop', 'other'), undefined);
  });

  it('creates an Event with its times as RFC 3339', async () => {
    api.on('POST /api/v1/namespaces/shop/events', (s, res) => json(res, 201, s.body));
    const at = new Date('2026-01-01T00:00:01.000Z');
    await client.createEvent('shop', {
      metadata: { name: 'b1.1' },
      involvedObject: { kind: 'Backup', name: 'b1', namespace: 'shop' },
      reason: 'BackupRunning',
      firstTimestamp: at,
    });
    assert.equal(api.seen[0]?.contentType, 'application/json');
    assert.deepEqual(api.seen[0]?.body, {
      metadata: { name: 'b1.1' },
      involvedObject: { kind: 'Backup', name: 'b1', namespace: 'shop' },
      reason: 'BackupRunning',
      firstTimestamp: '2026-01-01T00:00:01.000Z',
    });
  });

  it('creates, replaces and deletes a Lease as KubeClient does, MicroTime with six fractional digits', async () => {
    const leases = '/apis/coordination.k8s.io/v1/namespaces/lb/leases';
    api.on(`POST ${leases}`, (s, res) => json(res, 201, { ...(s.body as object), metadata: { resourceVersion: '7' } }));
    api.on(`PUT ${leases}/w1`, (s, res) => json(res, 200, s.body));
    api.on(`PUT ${leases}/gone`, (_s, res) => json(res, 404, { kind: 'Status', code: 404, message: 'not found' }));
    api.on(`DELETE ${leases}/`, (_s, res) => json(res, 404, { kind: 'Status', code: 404, message: 'not found' }));
    const record = {
      holderIdentity: 'h/1',
      leaseDurationSeconds: 60,
      renewTimeMs: Date.UTC(2026, 0, 1, 0, 0, 1, 250),
      leaseTransitions: 0,
    };
    const created = await client.createLease('lb', 'w1', record);
    assert.deepEqual(api.seen[0]?.body, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'w1', namespace: 'lb' },
      spec: {
        holderIdentity: 'h/1',
        leaseDurationSeconds: 60,
        renewTime: '2026-01-01T00:00:01.250000Z',
        leaseTransitions: 0,
      },
    });
    assert.deepEqual([created.renewTimeMs, created.resourceVersion], [record.renewTimeMs, '7']);
    assert.equal((await client.replaceLease('lb', 'w1', record)).holderIdentity, 'h/1');
    assert.equal(api.seen[1]?.method, 'PUT');
    await assert.rejects(client.replaceLease('lb', 'gone', record), KubeNotFoundError);
    await client.deleteLease('lb', 'w1'); // already gone: not an error
    assert.equal(api.seen[3]?.method, 'DELETE');
  });

  it('turns 409 into KubeConflictError (the status writer retries it), and a 404 of a write into KubeNotFoundError', async () => {
    api.on('PATCH', (_s, res) => json(res, 409, { code: 409, message: 'modified' }));
    const patch = { status: {}, resourceVersion: '1' };
    const conflict = await client.patchLifeboatStatus('Cluster', 'shop', 'c1', patch).catch((err: unknown) => err);
    assert.ok(conflict instanceof KubeConflictError);
    assert.equal(conflict.message, 'patch the status of clusters.lifeboat.dev shop/c1: modified');
    await assert.rejects(client.createEvent('nowhere', { metadata: {}, involvedObject: {} }), KubeNotFoundError);
  });

  it('gives the same results and errors as KubeClient for each of the worker calls', async () => {
    api.on(`GET ${BACKUP_PATH}`, (_s, res) => json(res, 200, { kind: 'Backup', metadata: { name: 'b1' } }));
    api.on('PATCH', (_s, res) => json(res, 409, { kind: 'Status', code: 409, message: 'modified' }));
    api.on('GET /api/v1/namespaces/shop/pods?', (_s, res) =>
      json(res, 200, { items: [{ metadata: { name: 'p', labels: { app: 'db' } }, status: { podIP: '10.0.0.9' } }] }),
    );
    api.on('GET /api/v1/namespaces/shop/secrets/db', (_s, res) => json(res, 200, { data: { k: 'dg==' } }));
    api.on('POST', (_s, res) => json(res, 403, { kind: 'Status', code: 403, message: 'events is forbidden' }));
    const calls = (c: KubeRestCalls): Promise<unknown>[] => [
      c.getLifeboat('Backup', 'shop', 'b1'),
      c.getLifeboat('Cluster', 'shop', 'none'),
      c.patchLifeboatStatus('Backup', 'shop', 'b1', { status: { phase: 'failed' }, resourceVersion: '2' }),
      c.listPods('shop', labelSelectorQuery({ matchLabels: { app: 'db' } })),
      c.readSecret('shop', 'db'),
      c.readSecret('shop', 'none'),
      c.createEvent('shop', { metadata: { name: 'e' }, involvedObject: { kind: 'Backup', name: 'b1' }, reason: 'X' }),
    ];
    const light = await Promise.all(calls(client).map(outcome));
    const full = await Promise.all(calls(kubeClientFor(url)).map(outcome));
    assert.deepEqual(light, full);
  });

  it('says the API server could not be reached, with code 0 and without the token', async () => {
    await api.stop();
    await assert.rejects(client.listPods('shop', labelSelectorQuery({ matchLabels: { app: 'db' } })), (err: Error) => {
      assert.ok(err instanceof KubeApiError);
      assert.equal(err.code, 0);
      assert.match(err.message, /^list Pods in shop matching app=db: the API server could not be reached/);
      assert.doesNotMatch(`${err.message} ${String(err.cause)}`, new RegExp(TOKEN));
      return true;
    });
  });

  it('keeps the token out of a refusal', async () => {
    api.on('GET', (_s, res) => json(res, 401, { kind: 'Status', code: 401, message: 'Unauthorized' }));
    await assert.rejects(client.getLifeboat('Backup', 'shop', 'b1'), (err: Error) => {
      assert.equal((err as KubeApiError).code, 401);
      assert.equal(err.message, 'get backups.lifeboat.dev shop/b1: Unauthorized');
      return true;
    });
  });

  it('gives up on a server that does not answer', async () => {
    api.on('GET', () => undefined);
    const impatient = new KubeRestClient(
      { server: url, insecureSkipTlsVerify: false, source: 't' },
      { timeoutMs: 100 },
    );
    await assert.rejects(
      impatient.getLifeboat('Backup', 'shop', 'b1'),
      /could not be reached \(no answer within 0.1 s\)/,
    );
  });

  it('reads a token file before every request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-token-'));
    try {
      const tokenFile = join(dir, 'token');
      const rotating = restClientFor(url, { tokenFile });
      writeFileSync(tokenFile, 'one\n');
      await rotating.getLifeboat('Backup', 'shop', 'b1');
      writeFileSync(tokenFile, 'two\n');
      await rotating.getLifeboat('Backup', 'shop', 'b1');
      assert.deepEqual(
        api.seen.map((s) => s.authorization),
        ['Bearer one', 'Bearer two'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kube rest client over TLS (fake API server)', () => {
  let tls: TlsBundle;
  let api: FakeApiServer;
  let url: string;

  before(() => {
    tls = generateSelfSigned(['127.0.0.1']);
  });
  beforeEach(async () => {
    api = new FakeApiServer();
    url = await api.listen(tls);
    api.on('GET', (_s, res) => json(res, 200, { metadata: { name: 'b1' } }));
  });
  afterEach(() => api.stop());

  it('trusts the given CA and shows the client certificate', async () => {
    const client = restClientFor(url, {
      ca: Buffer.from(tls.caCert),
      cert: Buffer.from(tls.cert),
      key: Buffer.from(tls.key),
    });
    assert.deepEqual(await client.getLifeboat('Backup', 'shop', 'b1'), { metadata: { name: 'b1' } });
    assert.equal(api.seen[0]?.clientCertificate, true);
  });

  it('refuses a server its CA did not sign, unless told to skip verification', async () => {
    await assert.rejects(restClientFor(url).getLifeboat('Backup', 'shop', 'b1'), (err: Error) => {
      assert.equal((err as KubeApiError).code, 0);
      assert.match(err.message, /could not be reached \(.*certificate/);
      return true;
    });
    const insecure = restClientFor(url, { insecureSkipTlsVerify: true });
    assert.deepEqual(await insecure.getLifeboat('Backup', 'shop', 'b1'), { metadata: { name: 'b1' } });
  });
});

describe('rest client from the environment (temp kubeconfigs)', () => {
  let dir: string;
  let saved: string | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-kubeconfig-'));
    saved = process.env['KUBECONFIG'];
  });
  afterEach(() => {
    if (saved === undefined) delete process.env['KUBECONFIG'];
    else process.env['KUBECONFIG'] = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  function useKubeconfig(user: Record<string, unknown>): void {
    const config = {
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    };
    process.env['KUBECONFIG'] = join(dir, 'config');
    writeFileSync(process.env['KUBECONFIG'], dump(config));
  }

  it('is the light client for a plain kubeconfig', () => {
    useKubeconfig({ token: 't' });
    assert.ok(restClientFromEnvironment() instanceof KubeRestClient);
  });

  it('is KubeClient, with the reason, for a user that needs an exec plugin', () => {
    useKubeconfig({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'true' } });
    const reasons: string[] = [];
    assert.ok(restClientFromEnvironment({}, (why) => reasons.push(why)) instanceof KubeClient);
    assert.deepEqual(reasons, ['users[u].user uses exec']);
  });
});

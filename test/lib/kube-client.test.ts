// The Kubernetes client wrapper against a fake API server (plain HTTP on loopback): the requests
// it sends for the runner's calls, and the errors it turns answers into.
import { labelSelectorQuery } from '../../lib/label-selector.js';
import assert from 'node:assert/strict';
import {
  KubeApiError,
  KubeClient,
  KubeConflictError,
  KubeGoneError,
  KubeNotFoundError,
  type WatchEventType,
} from '../../lib/kube-client.js';
import { FakeApiServer, json, kubeClientFor } from './fake-api-server.js';

describe('kube client (fake API server)', () => {
  let api: FakeApiServer;
  let client: KubeClient;

  beforeEach(async () => {
    api = new FakeApiServer();
    client = kubeClientFor(await api.listen());
  });
  afterEach(() => api.stop());

  it('lists a kind in all namespaces, following continue tokens', async () => {
    api.on('GET /apis/lifeboat.dev/v1alpha1/backups?', (seen, res) => {
      const next = new URL(`http://x${seen.url}`).searchParams.get('continue');
      const name = next === 'p2' ? 'b' : 'a';
      json(res, 200, {
        items: [{ metadata: { name } }],
        metadata: { resourceVersion: '9', continue: next ? '' : 'p2' },
      });
    });
    const list = await client.listLifeboat('Backup');
    assert.deepEqual(
      list.items.map((i) => (i as { metadata: { name: string } }).metadata.name),
      ['a', 'b'],
    );
    assert.equal(list.resourceVersion, '9');
  });

  it('patches the status subresource as a merge patch carrying the resourceVersion', async () => {
    api.on('PATCH /apis/lifeboat.dev/v1alpha1/namespaces/shop/backups/b1/status', (_s, res) =>
      json(res, 200, { metadata: { name: 'b1' } }),
    );
    await client.patchLifeboatStatus('Backup', 'shop', 'b1', { status: { phase: 'running' }, resourceVersion: '41' });
    const [patch] = api.seen;
    assert.equal(patch?.contentType, 'application/merge-patch+json');
    assert.match(patch?.url ?? '', /fieldManager=lifeboat-test/);
    assert.deepEqual(patch?.body, { metadata: { resourceVersion: '41' }, status: { phase: 'running' } });
  });

  it('turns 409 into KubeConflictError and 404 into KubeNotFoundError, naming the call', async () => {
    api.on('PATCH', (_s, res) => json(res, 409, { code: 409, message: 'the object has been modified' }));
    await assert.rejects(
      client.patchLifeboatStatus('Backup', 'shop', 'b1', { status: {}, resourceVersion: '1' }),
      (err: Error) =>
        err instanceof KubeConflictError &&
        err.message === 'patch the status of backups.lifeboat.dev shop/b1: the object has been modified',
    );
    await assert.rejects(client.createJob('shop', { metadata: { name: 'j' } }), KubeNotFoundError);
  });

  it('says the API server could not be reached, with code 0', async () => {
    await api.stop();
    await assert.rejects(client.listPods('shop', labelSelectorQuery({ matchLabels: { app: 'db' } })), (err: Error) => {
      assert.ok(err instanceof KubeApiError);
      assert.equal(err.code, 0);
      assert.match(err.message, /^list Pods in shop matching app=db: the API server could not be reached/);
      return true;
    });
  });

  it('writes Lease times with microseconds, and reads them back as milliseconds', async () => {
    api.on('PUT /apis/coordination.k8s.io/v1/namespaces/ls/leases/runner', (s, res) =>
      json(res, 200, { ...(s.body as object), metadata: { name: 'runner', resourceVersion: '8' } }),
    );
    const t = Date.parse('2026-01-01T00:00:01.234Z');
    const record = {
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      renewTimeMs: t,
      leaseTransitions: 2,
      resourceVersion: '7',
    };
    const back = await client.replaceLease('ls', 'runner', record);
    const body = api.seen[0]?.body as { metadata: { resourceVersion: string }; spec: { renewTime: string } };
    assert.equal(body.spec.renewTime, '2026-01-01T00:00:01.234000Z');
    assert.equal(body.metadata.resourceVersion, '7');
    assert.deepEqual(back, { ...record, acquireTimeMs: undefined, resourceVersion: '8' });
  });

  it('reads a missing Lease as undefined', async () => {
    assert.equal(await client.getLease('ls', 'runner'), undefined);
  });

  it('creates Events in the namespace of the object', async () => {
    api.on('POST /api/v1/namespaces/shop/events', (s, res) => json(res, 201, s.body));
    await client.createEvent('shop', {
      metadata: { name: 'b1.1' },
      involvedObject: { kind: 'Backup', name: 'b1', namespace: 'shop' },
      reason: 'BackupRunning',
    });
    assert.equal((api.seen[0]?.body as { reason: string }).reason, 'BackupRunning');
  });

  it('watches from a resourceVersion with bookmarks and a timeout, and reports each event', async () => {
    api.on('GET /apis/lifeboat.dev/v1alpha1/namespaces/shop/backups?', (_s, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } })}\n`);
      res.end(`${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '12' } } })}\n`);
    });
    const events: WatchEventType[] = [];
    const ended = new Promise<Error | undefined>((resolve) => {
      void client.watchLifeboat(
        { kind: 'Backup', namespace: 'shop', resourceVersion: '10', timeoutSeconds: 60 },
        (type) => events.push(type),
        resolve,
      );
    });
    assert.equal(await ended, undefined);
    assert.deepEqual(events, ['ADDED', 'BOOKMARK']);
    const url = new URL(`http://x${api.seen[0]?.url ?? ''}`);
    assert.equal(url.searchParams.get('watch'), 'true');
    assert.equal(url.searchParams.get('resourceVersion'), '10');
    assert.equal(url.searchParams.get('allowWatchBookmarks'), 'true');
    assert.equal(url.searchParams.get('timeoutSeconds'), '60');
  });

  it('ends a watch with KubeGoneError when the server says its version is too old', async () => {
    api.on('GET /apis/lifeboat.dev/v1alpha1/clusters?', (_s, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const status = { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 1 (5)' };
      res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
    });
    const ended = new Promise<Error | undefined>((resolve) => {
      void client.watchLifeboat({ kind: 'Cluster', resourceVersion: '1' }, () => undefined, resolve);
    });
    const err = await ended;
    assert.ok(err instanceof KubeGoneError);
    assert.match(err.message, /too old resource version/);
  });

  it('ends a watch refused with an HTTP status with the matching error', async () => {
    api.on('GET /apis/lifeboat.dev/v1alpha1/restores?', (_s, res) =>
      json(res, 403, { code: 403, message: 'forbidden' }),
    );
    const ended = new Promise<Error | undefined>((resolve) => {
      void client.watchLifeboat({ kind: 'Restore', resourceVersion: '1' }, () => undefined, resolve);
    });
    const err = await ended;
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.code, 403);
  });
});

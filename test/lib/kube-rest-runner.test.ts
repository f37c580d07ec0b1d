// The runner's calls over the light transport against a fake API server: each sends what
// KubeClient (client-node) sends and gives the same result or error, and a watch streams events,
// ends once, and reports an expired version as KubeGoneError.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { KubeConflictError, KubeGoneError, KubeNotFoundError } from '../../lib/kube-errors.js';
import type { RunnerKubeCalls } from '../../lib/kube-rest.js';
import type { WatchEventType } from '../../lib/kube-watch.js';
import { FakeApiServer, json, kubeClientFor, outcome, restClientFor, type Seen } from './fake-api-server.js';

const BACKUPS = '/apis/lifeboat.dev/v1alpha1/namespaces/shop/backups';
const JOBS = '/apis/batch/v1/namespaces/shop/jobs';

/** What reached the server, comparable between the clients: the query's order and a content type without a body aside. */
function request(s: Seen): unknown {
  const url = new URL(`http://x${s.url}`);
  url.searchParams.sort();
  const contentType = s.body === undefined ? undefined : s.contentType;
  return { method: s.method, path: url.pathname, query: url.search, contentType, body: s.body };
}

describe("kube rest client: the runner's calls (fake API server)", () => {
  let api: FakeApiServer;
  let url: string;

  beforeEach(async () => {
    api = new FakeApiServer();
    url = await api.listen();
  });
  afterEach(() => api.stop());

  it('sends the same requests as KubeClient and gives the same results and errors', async () => {
    api.on(`POST ${BACKUPS}`, (s, res) =>
      (s.body as { metadata: { name: string } }).metadata.name === 'taken'
        ? json(res, 409, { kind: 'Status', code: 409, message: 'backups "taken" already exists' })
        : json(res, 201, s.body),
    );
    api.on(`DELETE ${BACKUPS}/gone`, (_s, res) => json(res, 404, { kind: 'Status', code: 404, message: 'not found' }));
    api.on(`DELETE ${BACKUPS}/b1`, (_s, res) => json(res, 200, { kind: 'Status', code: 200 }));
    api.on(`PATCH ${BACKUPS}/b1`, (s, res) => json(res, 200, { metadata: { name: 'b1', ...(s.body as object) } }));
    api.on(`PATCH ${BACKUPS}/b2`, (_s, res) => json(res, 409, { kind: 'Status', code: 409, message: 'modified' }));
    api.on(`POST ${JOBS}`, (s, res) => json(res, 201, s.body));
    api.on(`GET ${JOBS}/j1`, (_s, res) =>
      json(res, 200, { metadata: { name: 'j1', creationTimestamp: '2026-01-01T00:00:00Z' }, status: { active: 1 } }),
    );
    api.on(`DELETE ${JOBS}/`, (_s, res) => json(res, 200, { kind: 'Status', code: 200 }));
    const backup = (name: string): object => ({
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'Backup',
      metadata: { name },
    });
    const calls = (c: RunnerKubeCalls): (() => Promise<unknown>)[] => [
      () => c.createLifeboat('Backup', 'shop', backup('b1')),
      () => c.createLifeboat('Backup', 'shop', backup('taken')),
      () => c.deleteLifeboat('Backup', 'shop', 'b1', 'uid-1'),
      () => c.deleteLifeboat('Backup', 'shop', 'gone', 'uid-2'),
      () => c.patchLifeboatFinalizers('Backup', 'shop', 'b1', ['lifeboat.dev/work'], '7'),
      () => c.patchLifeboatFinalizers('Backup', 'shop', 'b2', [], '8'),
      () => c.createJob('shop', { metadata: { name: 'j1' }, spec: { template: { spec: { containers: [] } } } }),
      () => c.readJob('shop', 'j1'),
      () => c.readJob('shop', 'none'),
      () => c.deleteJob('shop', 'j1'),
    ];
    const sequentially = async (c: RunnerKubeCalls): Promise<unknown[]> => {
      const results: unknown[] = [];
      for (const call of calls(c)) results.push(await outcome(call()));
      return results;
    };
    const light = await sequentially(restClientFor(url));
    const lightRequests = api.seen.splice(0).map(request);
    const full = await sequentially(kubeClientFor(url));
    // client-node reads a Job's times into Dates; as JSON they read the same except for milliseconds.
    assert.deepEqual(light.slice(0, 7), full.slice(0, 7));
    assert.deepEqual(light.slice(8), full.slice(8));
    assert.deepEqual((light[7] as { result: { status: unknown } }).result.status, { active: 1 });
    assert.deepEqual(lightRequests, api.seen.map(request));
    assert.equal((light[1] as { error: string }).error, KubeConflictError.name);
  });

  it('lists every page, following the continue token, and returns the last resourceVersion', async () => {
    api.on(`GET ${BACKUPS}?limit=500&continue=p2`, (_s, res) =>
      json(res, 200, { items: [{ metadata: { name: 'c' } }], metadata: { resourceVersion: '12' } }),
    );
    api.on(`GET ${BACKUPS}?limit=500`, (_s, res) =>
      json(res, 200, {
        items: [{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }],
        metadata: { resourceVersion: '11', continue: 'p2' },
      }),
    );
    const list = await restClientFor(url).listLifeboat('Backup', 'shop');
    assert.deepEqual(list, {
      items: [{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }, { metadata: { name: 'c' } }],
      resourceVersion: '12',
    });
    const all = restClientFor(url).listLifeboat('Backup');
    await assert.rejects(all, KubeNotFoundError); // no route: lists every namespace, not "shop"
    assert.equal(api.seen[2]?.url, '/apis/lifeboat.dev/v1alpha1/backups?limit=500');
  });
});

describe('kube rest client: watches (fake API server)', () => {
  let api: FakeApiServer;
  let url: string;
  let stream: ServerResponse | undefined;

  beforeEach(async () => {
    api = new FakeApiServer();
    url = await api.listen();
    api.on(`GET ${BACKUPS}?watch=true`, (_s, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      stream = res;
    });
  });
  afterEach(() => api.stop());

  /** Events seen, and how the watch ended (once). */
  function recorder(): {
    events: [WatchEventType, unknown][];
    ends: (Error | undefined)[];
    onEvent: (type: WatchEventType, object: unknown) => void;
    onDone: (err: Error | undefined) => void;
  } {
    const events: [WatchEventType, unknown][] = [];
    const ends: (Error | undefined)[] = [];
    return { events, ends, onEvent: (t, o) => events.push([t, o]), onDone: (err) => ends.push(err) };
  }

  const until = async (done: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(done(), 'timed out waiting');
  };

  it('asks from the version given, streams events split across chunks, and ends once when the server closes', async () => {
    const r = recorder();
    await restClientFor(url).watchLifeboat(
      { kind: 'Backup', namespace: 'shop', resourceVersion: '41', timeoutSeconds: 300 },
      r.onEvent,
      r.onDone,
    );
    const sent = new URL(`http://x${api.seen[0]?.url ?? ''}`);
    assert.deepEqual(Object.fromEntries(sent.searchParams), {
      watch: 'true',
      resourceVersion: '41',
      allowWatchBookmarks: 'true',
      timeoutSeconds: '300',
    });
    const line = (type: string, name: string): string =>
      `${JSON.stringify({ type, object: { metadata: { name } } })}\n`;
    const both = line('ADDED', 'ä1') + line('MODIFIED', 'a1');
    stream?.write(both.slice(0, 20));
    stream?.write(both.slice(20) + line('BOOKMARK', ''));
    await until(() => r.events.length === 3);
    stream?.end();
    await until(() => r.ends.length === 1);
    assert.deepEqual(r.events, [
      ['ADDED', { metadata: { name: 'ä1' } }],
      ['MODIFIED', { metadata: { name: 'a1' } }],
      ['BOOKMARK', { metadata: { name: '' } }],
    ]);
    assert.deepEqual(r.ends, [undefined]);
  });

  it('ends with KubeGoneError on an ERROR event of 410, and calls nothing after', async () => {
    const r = recorder();
    await restClientFor(url).watchLifeboat(
      { kind: 'Backup', namespace: 'shop', resourceVersion: '1' },
      r.onEvent,
      r.onDone,
    );
    stream?.write(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old' } })}\n`);
    stream?.write(`${JSON.stringify({ type: 'ADDED', object: {} })}\n`);
    await until(() => r.ends.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(r.events.length, 0);
    assert.ok(r.ends[0] instanceof KubeGoneError);
    assert.equal(r.ends[0].message, 'watch backups.lifeboat.dev in namespace shop: too old');
  });

  it('rejects a watch the server refuses, and stop() ends one without calling back', async () => {
    const refused = restClientFor(url).watchLifeboat(
      { kind: 'Cluster', resourceVersion: '1' },
      () => undefined,
      () => undefined,
    );
    await assert.rejects(refused, KubeNotFoundError);
    const r = recorder();
    const handle = await restClientFor(url).watchLifeboat(
      { kind: 'Backup', namespace: 'shop', resourceVersion: '1' },
      r.onEvent,
      r.onDone,
    );
    handle.stop();
    stream?.write(`${JSON.stringify({ type: 'ADDED', object: {} })}\n`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual([r.events, r.ends], [[], []]);
  });
});

// A watch over the light transport when the API server goes away or refuses the version asked
// (fake API server): the watch must end exactly once so that the informer lists or watches again.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { KubeGoneError } from '../../lib/kube-errors.js';
import { FakeApiServer, json, restClientFor } from './fake-api-server.js';

const BACKUPS = '/apis/lifeboat.dev/v1alpha1/namespaces/shop/backups';

const until = async (done: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(done(), 'timed out waiting');
};

describe('kube rest watch: the API server goes away or refuses the version (fake API server)', () => {
  let api: FakeApiServer;
  let url: string;

  beforeEach(async () => {
    api = new FakeApiServer();
    url = await api.listen();
  });
  afterEach(() => api.stop());

  it('ends once, with an error, when the connection is cut in the middle of the stream', async () => {
    let stream: ServerResponse | undefined;
    api.on(`GET ${BACKUPS}?watch=true`, (_s, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } })}\n`);
      stream = res;
    });
    const events: string[] = [];
    const ends: (Error | undefined)[] = [];
    await restClientFor(url).watchLifeboat(
      { kind: 'Backup', namespace: 'shop', resourceVersion: '1' },
      (type) => events.push(type),
      (err) => ends.push(err),
    );
    await until(() => events.length === 1);
    // Half an event, then the socket dies as when the API server process is killed.
    stream?.write('{"type":"MODIFIED","obj');
    stream?.socket?.destroy();
    await until(() => ends.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(events, ['ADDED']);
    assert.equal(ends.length, 1);
    assert.ok(ends[0] instanceof Error, 'a cut stream is an error, so the informer lists again');
  });

  it('rejects with KubeGoneError when the watch itself is answered 410', async () => {
    api.on(`GET ${BACKUPS}?watch=true`, (_s, res) => json(res, 410, { kind: 'Status', code: 410, message: 'too old' }));
    await assert.rejects(
      restClientFor(url).watchLifeboat(
        { kind: 'Backup', namespace: 'shop', resourceVersion: '1' },
        () => undefined,
        () => undefined,
      ),
      KubeGoneError,
    );
  });

  it('rejects, naming the watch, when nothing listens', async () => {
    const port = new URL(url).port;
    await api.stop();
    await assert.rejects(
      restClientFor(`http://127.0.0.1:${port}`).watchLifeboat(
        { kind: 'Backup', namespace: 'shop', resourceVersion: '1' },
        () => undefined,
        () => undefined,
      ),
      /watch backups.lifeboat.dev in namespace shop: the API server could not be reached/,
    );
  });
});

// The informer loop against a fake list/watch source and a fake clock: what it reports, where it
// resumes, and how it recovers from 410 Gone, errors, and watches that go silent.
import assert from 'node:assert/strict';
import type { LifeboatKind } from '../../../crds/kinds.js';
import { KubeApiError, KubeGoneError, type WatchHandle, type WatchRequest } from '../../../lib/kube-client.js';
import type { WatchEventType } from '../../../lib/kube-watch.js';
import { InformerLoop, type InformerEvent, type ListWatchSource } from '../../../runner/reconcile/informer-loop.js';
import { FakeClock, silentLog } from './fakes.js';

const backup = (name: string, rv: string): unknown => ({ metadata: { name, namespace: 'shop', resourceVersion: rv } });

interface OpenWatch {
  readonly request: WatchRequest;
  readonly onEvent: (type: WatchEventType, object: unknown) => void;
  readonly onDone: (err: Error | undefined) => void;
  stopped: boolean;
}

/** Lists what `items` holds now (or fails with `listError`); the test drives each watch by hand. */
class FakeSource implements ListWatchSource {
  items: unknown[] = [];
  resourceVersion = '10';
  listError: Error | undefined;
  readonly lists: number[] = [];
  readonly watches: OpenWatch[] = [];

  constructor(private readonly clock: FakeClock) {}

  async listLifeboat(_kind: LifeboatKind): Promise<{ items: unknown[]; resourceVersion: string }> {
    this.lists.push(this.clock.now());
    await Promise.resolve();
    if (this.listError) throw this.listError;
    return { items: structuredClone(this.items), resourceVersion: this.resourceVersion };
  }

  async watchLifeboat(
    request: WatchRequest,
    onEvent: (type: WatchEventType, object: unknown) => void,
    onDone: (err: Error | undefined) => void,
  ): Promise<WatchHandle> {
    const open: OpenWatch = { request, onEvent, onDone, stopped: false };
    this.watches.push(open);
    return { stop: () => (open.stopped = true) };
  }

  get last(): OpenWatch {
    const open = this.watches.at(-1);
    if (!open) throw new Error('no watch was opened');
    return open;
  }
}

function setup(): { clock: FakeClock; source: FakeSource; events: string[]; loop: InformerLoop } {
  const clock = new FakeClock();
  const source = new FakeSource(clock);
  const events: string[] = [];
  const loop = new InformerLoop(source, {
    kinds: ['Backup'],
    log: silentLog,
    clock,
    onEvent: (e: InformerEvent) => events.push(`${e.type} ${e.namespace}/${e.name}`),
  });
  return { clock, source, events, loop };
}

describe('informer loop (fake list/watch source, fake clock)', () => {
  it('reports what the list holds, then watches from its resourceVersion', async () => {
    const { clock, source, events, loop } = setup();
    source.items = [backup('a', '5'), backup('b', '6')];
    loop.start();
    await clock.advance(0);
    await loop.synced();
    assert.deepEqual(events, ['add shop/a', 'add shop/b']);
    assert.equal(source.last.request.resourceVersion, '10');
    assert.equal(source.last.request.timeoutSeconds, 300);
    assert.deepEqual((loop.get('Backup', 'shop', 'a') as { metadata: unknown }).metadata, {
      name: 'a',
      namespace: 'shop',
      resourceVersion: '5',
    });
  });

  it('caches objects without their managedFields (nothing reads them; they are most of the memory)', async () => {
    const { clock, source, loop } = setup();
    source.items = [
      { metadata: { name: 'a', namespace: 'shop', resourceVersion: '5', managedFields: [{ manager: 'x' }] } },
    ];
    loop.start();
    await clock.advance(0);
    await loop.synced();
    source.last.onEvent('MODIFIED', {
      metadata: { name: 'a', namespace: 'shop', resourceVersion: '6', managedFields: [] },
    });
    assert.deepEqual((loop.get('Backup', 'shop', 'a') as { metadata: unknown }).metadata, {
      name: 'a',
      namespace: 'shop',
      resourceVersion: '6',
    });
  });

  it('turns watch events into add, update and delete, and resumes from the last version seen', async () => {
    const { clock, source, events, loop } = setup();
    loop.start();
    await clock.advance(0);
    source.last.onEvent('ADDED', backup('a', '11'));
    source.last.onEvent('MODIFIED', backup('a', '12'));
    source.last.onEvent('MODIFIED', backup('a', '12'));
    source.last.onEvent('BOOKMARK', { metadata: { resourceVersion: '14' } });
    source.last.onEvent('DELETED', backup('a', '15'));
    assert.deepEqual(events, ['add shop/a', 'update shop/a', 'delete shop/a']);
    await clock.advance(60_000);
    source.last.onDone(undefined);
    await clock.advance(0);
    assert.equal(source.lists.length, 1, 'a watch the server closed is resumed without listing');
    assert.equal(source.last.request.resourceVersion, '15');
  });

  it('on 410 Gone lists again at once and reports what changed meanwhile, deletions included', async () => {
    const { clock, source, events, loop } = setup();
    source.items = [backup('a', '5'), backup('b', '6')];
    loop.start();
    await clock.advance(0);
    source.items = [backup('b', '9'), backup('c', '20')];
    source.resourceVersion = '21';
    source.last.onDone(new KubeGoneError('watch: too old resource version', 410));
    await clock.advance(0);
    assert.equal(source.lists.length, 2);
    assert.deepEqual(events.slice(2).sort(), ['add shop/c', 'delete shop/a', 'update shop/b']);
    assert.equal(source.last.request.resourceVersion, '21');
    assert.deepEqual(loop.list('Backup').length, 2);
  });

  it('a watch the API server never answers (connection accepted, no headers) is given up and listed again', async () => {
    const { clock, source, loop } = setup();
    source.watchLifeboat = () => new Promise<WatchHandle>(() => undefined);
    loop.start();
    await clock.advance(0);
    assert.equal(source.lists.length, 1);
    await clock.advance(600_000);
    assert.ok(source.lists.length > 1, 'a watch that never started must not stop the informer for good');
    loop.stop();
  });

  it('after other errors lists again with exponential backoff capped at 30 s', async () => {
    const { clock, source, loop } = setup();
    loop.start();
    await clock.advance(0);
    source.listError = new KubeApiError('list backups: the API server could not be reached', 0);
    const t0 = clock.now();
    source.last.onDone(new KubeApiError('watch backups: connection reset', 0));
    await clock.advance(120_000);
    const waits = source.lists.slice(1).map((t) => t - t0);
    assert.deepEqual(waits, [1_000, 3_000, 7_000, 15_000, 31_000, 61_000, 91_000]);
    source.listError = undefined;
    await clock.advance(30_000);
    assert.equal(source.watches.length, 2, 'watches again once a list succeeds');
  });

  it('treats a watch the server ends at once as a failure, not a reason to spin', async () => {
    const { clock, source, loop } = setup();
    loop.start();
    await clock.advance(0);
    source.last.onDone(undefined);
    await clock.advance(500);
    assert.equal(source.watches.length, 1);
    await clock.advance(1_000);
    assert.equal(source.lists.length, 2);
    assert.equal(source.watches.length, 2);
  });

  it('gives up on a watch that stays silent past its timeout and lists again', async () => {
    const { clock, source, loop } = setup();
    loop.start();
    await clock.advance(0);
    const first = source.last;
    await clock.advance(330_000);
    assert.equal(first.stopped, true);
    await clock.advance(1_000);
    assert.equal(source.lists.length, 2);
    assert.notEqual(source.last, first);
  });

  it('stop() ends the watch and ignores its late callbacks', async () => {
    const { clock, source, events, loop } = setup();
    loop.start();
    await clock.advance(0);
    const open = source.last;
    loop.stop();
    assert.equal(open.stopped, true);
    open.onEvent('ADDED', backup('late', '30'));
    open.onDone(new KubeApiError('boom', 500));
    await clock.advance(60_000);
    assert.deepEqual(events, []);
    assert.equal(source.lists.length, 1);
  });
});

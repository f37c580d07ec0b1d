// Informers on the Lifeboat kinds: list, then watch from the list's resourceVersion, keeping a local
// cache and reporting add/update/delete. client-node 1.x's ListWatch relists on 410 but stops on any
// other error, and cannot time out a silently dead watch; this loop lists again with backoff after
// any failure, resumes a watch the server closed, and gives up on a watch that outlived its timeout.
import type { LifeboatKind } from '../../crds/kinds.js';
import { KubeGoneError, type LifeboatList, type WatchHandle, type WatchRequest } from '../../lib/kube-client.js';
import type { WatchEventType } from '../../lib/kube-watch.js';
import type { Logger } from '../../lib/logger.js';
import { backoffMs, systemClock, type Clock, type TimerHandle } from './clock.js';

export interface ListWatchSource {
  listLifeboat(kind: LifeboatKind, namespace?: string): Promise<LifeboatList>;
  watchLifeboat(
    request: WatchRequest,
    onEvent: (type: WatchEventType, object: unknown) => void,
    onDone: (err: Error | undefined) => void,
  ): Promise<WatchHandle>;
}

export type InformerEventType = 'add' | 'update' | 'delete';

export interface InformerEvent {
  readonly type: InformerEventType;
  readonly kind: LifeboatKind;
  readonly namespace: string;
  readonly name: string;
  readonly object: unknown;
}

export interface InformerOptions {
  readonly kinds: readonly LifeboatKind[];
  /** Watch one namespace; all when absent. */
  readonly namespace?: string;
  readonly onEvent: (event: InformerEvent) => void;
  readonly log: Logger;
  readonly clock?: Clock;
  /** First wait after a failed list or watch; doubles per consecutive failure. Default 1 s. */
  readonly baseRetryMs?: number;
  /** Longest wait between attempts. Default 30 s. */
  readonly maxRetryMs?: number;
  /** The API server ends each watch after this long. Default 300 s. */
  readonly watchTimeoutSeconds?: number;
}

interface Meta {
  readonly name?: string;
  readonly namespace?: string;
  readonly resourceVersion?: string;
}

function metaOf(object: unknown): Meta {
  return ((object as { metadata?: Meta } | undefined)?.metadata ?? {}) as Meta;
}

const cacheKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** A watch that ends normally sooner than this counts as a failure, so a flapping server is not hammered. */
const MIN_HEALTHY_WATCH_MS = 1_000;
/** How much longer than its server-side timeout a watch may stay silent before it is presumed dead. */
const WATCHDOG_SLACK_MS = 30_000;

/** One kind: its cache and its list/watch cycle. */
class KindInformer {
  private readonly cache = new Map<string, unknown>();
  private resourceVersion = '';
  private failures = 0;
  /** Bumped whenever a watch is abandoned, so its late callbacks are ignored. */
  private epoch = 0;
  private watch: WatchHandle | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private markSynced!: () => void;
  readonly synced = new Promise<void>((resolve) => (this.markSynced = resolve));

  constructor(
    private readonly kind: LifeboatKind,
    private readonly source: ListWatchSource,
    private readonly options: InformerOptions,
    private readonly clock: Clock,
  ) {}

  start(): void {
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    this.epoch++;
    this.timer?.cancel();
    this.watch?.stop();
    this.watch = undefined;
  }

  get(namespace: string, name: string): unknown {
    return this.cache.get(cacheKey(namespace, name));
  }

  list(): unknown[] {
    return [...this.cache.values()];
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    let list: LifeboatList;
    try {
      list = await this.source.listLifeboat(this.kind, this.options.namespace);
    } catch (err) {
      this.retry(err);
      return;
    }
    if (this.stopped) return;
    this.replace(list.items);
    this.resourceVersion = list.resourceVersion;
    this.markSynced();
    await this.startWatch();
  }

  private async startWatch(): Promise<void> {
    const epoch = ++this.epoch;
    const started = this.clock.now();
    const current = (): boolean => epoch === this.epoch && !this.stopped;
    const request = {
      kind: this.kind,
      namespace: this.options.namespace,
      resourceVersion: this.resourceVersion,
      timeoutSeconds: this.options.watchTimeoutSeconds ?? 300,
    };
    // Armed before the watch is asked for: an API server that takes the connection and never
    // answers must not hold this kind's informer for good (a request for a watch has no timeout).
    this.timer = this.clock.after(request.timeoutSeconds * 1000 + WATCHDOG_SLACK_MS, () => {
      if (!current()) return;
      this.onWatchDone(new Error(`the watch gave no sign of life for ${request.timeoutSeconds} s`), started);
    });
    let handle: WatchHandle;
    try {
      handle = await this.source.watchLifeboat(
        request,
        (type, object) => {
          if (current()) this.onWatchEvent(type, object);
        },
        (err) => {
          if (current()) this.onWatchDone(err, started);
        },
      );
    } catch (err) {
      if (current()) this.retry(err);
      return;
    }
    if (!current()) {
      handle.stop();
      return;
    }
    this.watch = handle;
  }

  private onWatchEvent(type: WatchEventType, object: unknown): void {
    this.failures = 0;
    const meta = metaOf(object);
    if (type === 'ADDED' || type === 'MODIFIED') this.upsert(object);
    if (type === 'DELETED') this.remove(meta.namespace ?? '', meta.name ?? '', object);
    if (meta.resourceVersion) this.resourceVersion = meta.resourceVersion;
  }

  private onWatchDone(err: Error | undefined, started: number): void {
    this.epoch++;
    this.timer?.cancel();
    this.watch?.stop();
    this.watch = undefined;
    if (this.stopped) return;
    if (err instanceof KubeGoneError) {
      this.options.log.info({ kind: this.kind }, 'watch history expired (410 Gone); listing again');
      this.resourceVersion = '';
      void this.relist();
    } else if (err) {
      this.retry(err);
    } else if (this.clock.now() - started < MIN_HEALTHY_WATCH_MS) {
      this.retry(new Error('the API server closed the watch at once'));
    } else {
      this.failures = 0;
      void this.startWatch();
    }
  }

  /** Lists again after a backoff; a list after a failure catches up on anything the watch missed. */
  private retry(err: unknown): void {
    if (this.stopped) return;
    this.failures++;
    const delay = backoffMs(this.failures, this.options.baseRetryMs ?? 1_000, this.options.maxRetryMs ?? 30_000);
    const message = err instanceof Error ? err.message : String(err);
    this.options.log.warn({ kind: this.kind, err: message, retryInMs: delay }, 'list/watch failed; retrying');
    this.timer?.cancel();
    this.timer = this.clock.after(delay, () => void this.relist());
  }

  /** Makes the cache what a fresh list says, reporting what changed since the last one. */
  private replace(items: readonly unknown[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      const meta = metaOf(item);
      seen.add(cacheKey(meta.namespace ?? '', meta.name ?? ''));
      this.upsert(item);
    }
    for (const [key, object] of [...this.cache.entries()]) {
      if (seen.has(key)) continue;
      const meta = metaOf(object);
      this.remove(meta.namespace ?? '', meta.name ?? '', object);
    }
  }

  private upsert(object: unknown): void {
    // managedFields are often the larger part of an object, and nothing here reads them: with
    // thousands of Backups cached, they are most of the runner's memory.
    delete (object as { metadata?: { managedFields?: unknown } }).metadata?.managedFields;
    const meta = metaOf(object);
    const namespace = meta.namespace ?? '';
    const name = meta.name ?? '';
    const key = cacheKey(namespace, name);
    const previous = this.cache.get(key);
    this.cache.set(key, object);
    if (previous === undefined) this.emit('add', namespace, name, object);
    else if (metaOf(previous).resourceVersion !== meta.resourceVersion) this.emit('update', namespace, name, object);
  }

  private remove(namespace: string, name: string, object: unknown): void {
    if (!this.cache.delete(cacheKey(namespace, name))) return;
    this.emit('delete', namespace, name, object);
  }

  private emit(type: InformerEventType, namespace: string, name: string, object: unknown): void {
    try {
      this.options.onEvent({ type, kind: this.kind, namespace, name, object });
    } catch (err) {
      // A faulty callback must not stop the informer; the object is still cached.
      this.options.log.error({ kind: this.kind, name, err: String(err) }, 'informer callback failed');
    }
  }
}

/** Informers on several kinds, sharing one source and one callback. */
export class InformerLoop {
  private readonly informers = new Map<LifeboatKind, KindInformer>();

  constructor(source: ListWatchSource, options: InformerOptions) {
    const clock = options.clock ?? systemClock;
    for (const kind of options.kinds) this.informers.set(kind, new KindInformer(kind, source, options, clock));
  }

  start(): void {
    for (const informer of this.informers.values()) informer.start();
  }

  /** Resolves once every kind has been listed at least once. */
  async synced(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.synced));
  }

  stop(): void {
    for (const informer of this.informers.values()) informer.stop();
  }

  /** The cached object, or undefined when the kind is not watched or the object is not known. */
  get(kind: LifeboatKind, namespace: string, name: string): unknown {
    return this.informers.get(kind)?.get(namespace, name);
  }

  list(kind: LifeboatKind): unknown[] {
    return this.informers.get(kind)?.list() ?? [];
  }
}

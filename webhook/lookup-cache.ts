// Where the webhook's neighbours come from (the Kubernetes client, or a fake in tests), and the
// short-lived cache in front of it that coalesces a burst of reviews into one read and gives up on
// a read the API server does not answer in time.
import type { LifeboatKind } from '../crds/kinds.js';

/** Where stored objects come from: the Kubernetes client, or a fake in tests. */
export interface ObjectSource {
  /** The stored object, or undefined when there is none; throws when the API cannot answer. */
  getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown>;
  /** Every object of a kind, in every namespace; absent where the source cannot list. */
  listLifeboat?(kind: LifeboatKind): Promise<{ readonly items: readonly unknown[] }>;
  /** A Namespace's labels, or undefined when there is no such Namespace; absent where it cannot tell. */
  readNamespaceLabels?(name: string): Promise<Readonly<Record<string, string>> | undefined>;
  /**
   * An answer already at hand, without waiting: a cache's settled entry, by lookup key (see
   * lookupKey). Lets a review whose neighbours are all cached be judged once, in one turn of the
   * event loop.
   */
  peek?(key: string): { readonly stored: unknown } | undefined;
  /** Drops what is remembered of an object that is being written; a cache's business. */
  forget?(kind: LifeboatKind, namespace: string, name: string): void;
}

// Names cannot hold a slash (DNS subdomains), and a kind never does.
export const lookupKey = {
  object: (kind: LifeboatKind, namespace: string, name: string): string => `${kind}/${namespace}/${name}`,
  list: (kind: LifeboatKind): string => `list/${kind}`,
  namespace: (name: string): string => `Namespace//${name}`,
};

export interface LookupCacheOptions {
  /**
   * How long a found object is reused. Short: a Backup's phase moves on, and a new Backup must
   * snapshot the Cluster's current objectStore. "Not found" is never reused, so a Cluster applied
   * a moment before its Backups (one `kubectl apply -f dir/`) is seen at once.
   */
  readonly ttlMs: number;
  readonly maxEntries: number;
  /**
   * A read with no answer after this long fails, and is forgotten: the next review asks again
   * rather than waiting on the same hung request. Below the webhook configurations' timeoutSeconds
   * (5 s), so the API server hears why. Default 3 s.
   */
  readonly timeoutMs?: number;
  readonly now?: () => number;
  /** Called once per lookup with where the answer came from, for metrics. */
  readonly observe?: (result: 'hit' | 'miss' | 'error') => void;
}

export const DEFAULT_LOOKUP_CACHE: LookupCacheOptions = { ttlMs: 1_000, maxEntries: 10_000, timeoutMs: 3_000 };

interface Entry {
  readonly expires: number;
  readonly value: Promise<unknown>;
  /** Set once the lookup has found something. */
  readonly settled?: { readonly stored: unknown };
}

/** The read, or a rejection once `ms` have passed without an answer. */
function withTimeout<T>(read: Promise<T>, ms: number | undefined): Promise<T> {
  if (ms === undefined) return read;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the API server within ${ms / 1000} s`)), ms);
  });
  return Promise.race([read, late]).finally(() => clearTimeout(timer));
}

/**
 * Coalesces concurrent lookups of one object into one read and reuses answers briefly, so a burst
 * of admissions (a GitOps sync of a hundred Backups of one Cluster) costs the API server one read,
 * not a hundred.
 */
export class LookupCache implements ObjectSource {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(
    private readonly source: ObjectSource,
    private readonly options: LookupCacheOptions = DEFAULT_LOOKUP_CACHE,
  ) {
    this.now = options.now ?? Date.now;
  }

  getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown> {
    return this.cached(lookupKey.object(kind, namespace, name), () => this.source.getLifeboat(kind, namespace, name));
  }

  listLifeboat(kind: LifeboatKind): Promise<{ readonly items: readonly unknown[] }> {
    const list = this.source.listLifeboat?.bind(this.source);
    if (!list) return Promise.resolve({ items: [] });
    return this.cached(lookupKey.list(kind), () => list(kind)) as Promise<{ readonly items: readonly unknown[] }>;
  }

  readNamespaceLabels(name: string): Promise<Readonly<Record<string, string>> | undefined> {
    const read = this.source.readNamespaceLabels?.bind(this.source);
    if (!read) return Promise.resolve(undefined);
    return this.cached(lookupKey.namespace(name), () => read(name)) as Promise<Record<string, string> | undefined>;
  }

  private cached(key: string, read: () => Promise<unknown>): Promise<unknown> {
    const cached = this.entries.get(key);
    if (cached && cached.expires > this.now()) {
      this.options.observe?.('hit');
      return cached.value;
    }
    const value = withTimeout(read(), this.options.timeoutMs);
    this.remember(key, { expires: Number.POSITIVE_INFINITY, value });
    value.then(
      (found) => {
        this.options.observe?.('miss');
        if (this.entries.get(key)?.value !== value) return;
        if (found === undefined) this.entries.delete(key);
        else this.entries.set(key, { expires: this.now() + this.options.ttlMs, value, settled: { stored: found } });
      },
      () => {
        // Errors and timeouts are not remembered: the next admission asks again.
        this.options.observe?.('error');
        if (this.entries.get(key)?.value === value) this.entries.delete(key);
      },
    );
    return value;
  }

  peek(key: string): { readonly stored: unknown } | undefined {
    const cached = this.entries.get(key);
    if (!cached?.settled || cached.expires <= this.now()) return undefined;
    this.options.observe?.('hit');
    return cached.settled;
  }

  /**
   * The webhook sees every write of a Lifeboat object, so the next review (the Backup applied right
   * after its Cluster changed) reads the object, and the list it is part of, afresh.
   */
  forget(kind: LifeboatKind, namespace: string, name: string): void {
    this.entries.delete(lookupKey.object(kind, namespace, name));
    this.entries.delete(lookupKey.list(kind));
  }

  private remember(key: string, entry: Entry): void {
    this.entries.delete(key);
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, entry);
  }
}

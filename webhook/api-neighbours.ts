// Neighbours from the API server for admission: the engine asks synchronously, so each review is
// judged, the lookups it wanted are fetched (through a short-lived cache), and it is judged again
// until it wants nothing new.
import { DNS_SUBDOMAIN_PATTERN, NAME_MAX } from '../crds/api-constants.js';
import type { Backup, Cluster, LifeboatKind, LifeboatObject } from '../crds/kinds.js';
import type { Neighbours, SecretInfo } from '../policies/policy-types.js';
import { decode } from '../policies/schema-check.js';

/** The API server could not say whether a neighbour exists; the review cannot be judged. */
export class NeighbourLookupError extends Error {
  readonly reason = 'NeighbourLookupFailed';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NeighbourLookupError';
  }
}

/** Where stored objects come from: the Kubernetes client, or a fake in tests. */
export interface ObjectSource {
  /** The stored object, or undefined when there is none; throws when the API cannot answer. */
  getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown>;
  /**
   * An answer already at hand, without waiting: a cache's settled entry. Lets a review whose
   * neighbours are all cached be judged once, in one turn of the event loop.
   */
  peek?(kind: LifeboatKind, namespace: string, name: string): { readonly stored: unknown } | undefined;
  /** Drops what is remembered of an object that is being written; a cache's business. */
  forget?(kind: LifeboatKind, namespace: string, name: string): void;
}

export interface LookupCacheOptions {
  /**
   * How long a found object is reused. Short: a Backup's phase moves on, and a new Backup must
   * snapshot the Cluster's current objectStore. "Not found" is never reused, so a Cluster applied
   * a moment before its Backups (one `kubectl apply -f dir/`) is seen at once.
   */
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly now?: () => number;
  /** Called once per lookup with where the answer came from, for metrics. */
  readonly observe?: (result: 'hit' | 'miss' | 'error') => void;
}

export const DEFAULT_LOOKUP_CACHE: LookupCacheOptions = { ttlMs: 1_000, maxEntries: 10_000 };

// Names cannot hold a slash (DNS subdomains), and a kind never does.
function cacheKey(kind: LifeboatKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

interface Entry {
  readonly expires: number;
  readonly value: Promise<unknown>;
  /** Set once the lookup has found the object. */
  readonly settled?: { readonly stored: unknown };
}

/**
 * Coalesces concurrent lookups of one object and reuses answers briefly, so a burst of admissions
 * (a GitOps sync of a hundred Backups of one Cluster) costs the API server one read, not a hundred.
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
    const key = cacheKey(kind, namespace, name);
    const cached = this.entries.get(key);
    if (cached && cached.expires > this.now()) {
      this.options.observe?.('hit');
      return cached.value;
    }
    const value = this.source.getLifeboat(kind, namespace, name);
    this.remember(key, { expires: Number.POSITIVE_INFINITY, value });
    value.then(
      (found) => {
        this.options.observe?.('miss');
        if (this.entries.get(key)?.value !== value) return;
        if (found === undefined) this.entries.delete(key);
        else this.entries.set(key, { expires: this.now() + this.options.ttlMs, value, settled: { stored: found } });
      },
      () => {
        // Errors are not remembered: the next admission asks again.
        this.options.observe?.('error');
        if (this.entries.get(key)?.value === value) this.entries.delete(key);
      },
    );
    return value;
  }

  peek(kind: LifeboatKind, namespace: string, name: string): { readonly stored: unknown } | undefined {
    const cached = this.entries.get(cacheKey(kind, namespace, name));
    if (!cached?.settled || cached.expires <= this.now()) return undefined;
    this.options.observe?.('hit');
    return cached.settled;
  }

  /**
   * The webhook sees every write of a Lifeboat object, so the next review (the Backup applied right
   * after its Cluster changed) reads the object afresh instead of waiting out the TTL.
   */
  forget(kind: LifeboatKind, namespace: string, name: string): void {
    this.entries.delete(cacheKey(kind, namespace, name));
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

type Found = { readonly present: boolean; readonly object?: LifeboatObject };

interface Wanted {
  readonly kind: LifeboatKind;
  readonly namespace: string;
  readonly name: string;
}

/** What one judgement has learned from the API so far; records what else it asked for. */
class Snapshot implements Neighbours {
  readonly authoritative = true;
  // The webhook is not granted Secrets: a missing one cannot be told from an unreadable one.
  readonly secretsListed = false;
  readonly known = new Map<string, Found>();
  readonly wanted = new Map<string, Wanted>();

  constructor(private readonly source: ObjectSource) {}

  private find(kind: LifeboatKind, namespace: string, name: string): Found | undefined {
    const key = cacheKey(kind, namespace, name);
    const known = this.known.get(key);
    if (known) return known;
    const ready = this.source.peek?.(kind, namespace, name);
    if (ready) {
      const answer = found(ready.stored);
      this.known.set(key, answer);
      return answer;
    }
    this.wanted.set(key, { kind, namespace, name });
    return undefined;
  }

  cluster(namespace: string, name: string): Cluster | undefined {
    const object = this.find('Cluster', namespace, name)?.object;
    return object?.kind === 'Cluster' ? object : undefined;
  }

  backup(namespace: string, name: string): Backup | undefined {
    const object = this.find('Backup', namespace, name)?.object;
    return object?.kind === 'Backup' ? object : undefined;
  }

  has(kind: LifeboatKind, namespace: string, name: string): boolean {
    return this.find(kind, namespace, name)?.present ?? false;
  }

  secret(): SecretInfo | undefined {
    return undefined;
  }

  secretNamespaces(): readonly string[] {
    return [];
  }
}

// A cached object is the same object on every hit, so it is checked against the schema once.
const decodedObjects = new WeakMap<object, Found>();

/** A stored object as the engine sees it: present, and typed when it still passes the schema. */
function found(stored: unknown): Found {
  if (stored === undefined) return { present: false };
  const remembered = typeof stored === 'object' && stored !== null ? decodedObjects.get(stored) : undefined;
  if (remembered) return remembered;
  const decoded = decode(stored);
  const answer = decoded.type === 'lifeboat' ? { present: true, object: decoded.object } : { present: true };
  if (typeof stored === 'object' && stored !== null) decodedObjects.set(stored, answer);
  return answer;
}

const OBJECT_NAME = new RegExp(DNS_SUBDOMAIN_PATTERN);

/** No object can carry a name the API server would refuse, so there is nothing to ask for. */
function lookup(source: ObjectSource, { kind, namespace, name }: Wanted): Promise<unknown> {
  const nameable = (n: string): boolean => n.length <= NAME_MAX && OBJECT_NAME.test(n);
  return nameable(namespace) && nameable(name) ? source.getLifeboat(kind, namespace, name) : Promise.resolve(undefined);
}

// A Restore names a Backup, which names a Cluster: two rounds of lookups, three judgements.
const MAX_ROUNDS = 4;

/**
 * Runs `judge` with neighbours read from the API. Throws NeighbourLookupError when the API server
 * cannot answer, which the caller turns into a denial that says so; `judge`'s own errors pass through.
 */
export async function judgeWithApi<T>(source: ObjectSource, judge: (neighbours: Neighbours) => T): Promise<T> {
  const snapshot = new Snapshot(source);
  for (let round = 1; ; round++) {
    snapshot.wanted.clear();
    const result = judge(snapshot);
    if (snapshot.wanted.size === 0 || round === MAX_ROUNDS) return result;
    const wanted = [...snapshot.wanted];
    const stored = await Promise.all(wanted.map(([, w]) => lookup(source, w))).catch((err: unknown) => {
      throw new NeighbourLookupError(err instanceof Error ? err.message : String(err), { cause: err });
    });
    wanted.forEach(([key], i) => snapshot.known.set(key, found(stored[i])));
  }
}

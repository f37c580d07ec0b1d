// Neighbours from the API server for admission: the engine asks synchronously, so each review is
// judged, the lookups it wanted are fetched (through a short-lived cache, lookup-cache.ts), and it
// is judged again until it wants nothing new.
import { DNS_SUBDOMAIN_PATTERN, NAME_MAX } from '../crds/api-constants.js';
import type { Backup, Cluster, LifeboatKind, LifeboatObject } from '../crds/kinds.js';
import type { Neighbours, SecretInfo } from '../policies/policy-types.js';
import { decode } from '../policies/schema-check.js';
import { lookupKey, type ObjectSource } from './lookup-cache.js';

/** The API server could not say whether a neighbour exists; the review cannot be judged. */
export class NeighbourLookupError extends Error {
  readonly reason = 'NeighbourLookupFailed';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NeighbourLookupError';
  }
}

export { DEFAULT_LOOKUP_CACHE, LookupCache, type LookupCacheOptions, type ObjectSource } from './lookup-cache.js';

type Found = { readonly present: boolean; readonly object?: LifeboatObject };

/** One thing a judgement asked the API for. */
type Lookup =
  | { readonly type: 'object'; readonly kind: LifeboatKind; readonly namespace: string; readonly name: string }
  | { readonly type: 'list'; readonly kind: 'Cluster' }
  | { readonly type: 'namespace'; readonly name: string };

function keyOf(lookup: Lookup): string {
  if (lookup.type === 'object') return lookupKey.object(lookup.kind, lookup.namespace, lookup.name);
  return lookup.type === 'list' ? lookupKey.list(lookup.kind) : lookupKey.namespace(lookup.name);
}

/** What one judgement has learned from the API so far (raw answers by key); records what else it asked for. */
class Snapshot implements Neighbours {
  readonly authoritative = true;
  // The webhook is not granted Secrets: a missing one cannot be told from an unreadable one.
  readonly secretsListed = false;
  readonly known = new Map<string, unknown>();
  readonly wanted = new Map<string, Lookup>();

  constructor(private readonly source: ObjectSource) {}

  /** The raw answer, or undefined after recording that it is wanted. */
  private answer(lookup: Lookup): { readonly stored: unknown } | undefined {
    const key = keyOf(lookup);
    if (this.known.has(key)) return { stored: this.known.get(key) };
    const ready = this.source.peek?.(key);
    if (ready) {
      this.known.set(key, ready.stored);
      return ready;
    }
    this.wanted.set(key, lookup);
    return undefined;
  }

  private find(kind: LifeboatKind, namespace: string, name: string): Found | undefined {
    const answer = this.answer({ type: 'object', kind, namespace, name });
    return answer && found(answer.stored);
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

  clusters(): readonly Cluster[] | undefined {
    if (!this.source.listLifeboat) return undefined;
    const answer = this.answer({ type: 'list', kind: 'Cluster' });
    const items = (answer?.stored as { items?: readonly unknown[] } | undefined)?.items;
    if (!items) return undefined;
    return items.flatMap((item) => {
      const object = found(item).object;
      return object?.kind === 'Cluster' ? [object] : [];
    });
  }

  namespaceLabels(name: string): Readonly<Record<string, string>> | undefined {
    if (!this.source.readNamespaceLabels) return undefined;
    const answer = this.answer({ type: 'namespace', name });
    // A Namespace that is not there has no label that allows anything.
    return answer ? ((answer.stored as Record<string, string> | undefined) ?? {}) : undefined;
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

const nameable = (n: string): boolean => n.length <= NAME_MAX && OBJECT_NAME.test(n);

/** No object can carry a name the API server would refuse, so there is nothing to ask for. */
function lookup(source: ObjectSource, wanted: Lookup): Promise<unknown> {
  switch (wanted.type) {
    case 'object': {
      const { kind, namespace, name } = wanted;
      return nameable(namespace) && nameable(name)
        ? source.getLifeboat(kind, namespace, name)
        : Promise.resolve(undefined);
    }
    case 'list':
      return source.listLifeboat?.(wanted.kind) ?? Promise.resolve(undefined);
    case 'namespace':
      return nameable(wanted.name)
        ? (source.readNamespaceLabels?.(wanted.name) ?? Promise.resolve(undefined))
        : Promise.resolve(undefined);
  }
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
    wanted.forEach(([key], i) => snapshot.known.set(key, stored[i]));
  }
}

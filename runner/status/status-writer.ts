// The one way status is written (runner and worker alike): re-read the object, apply a pure change
// to a copy, skip the write if nothing changed, merge-patch the status subresource guarded by the
// resourceVersion read, and on 409 start over from a fresh read. The spec, which belongs to the
// user's Git repository, is never written.
import { isDeepStrictEqual } from 'node:util';
import type { LifeboatKind } from '../../crds/kinds.js';
import { KubeConflictError, type StatusPatch } from '../../lib/kube-client.js';
import type { Condition } from './conditions.js';

export interface StatusClient {
  getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown>;
  patchLifeboatStatus(kind: LifeboatKind, namespace: string, name: string, patch: StatusPatch): Promise<unknown>;
}

/** Metadata the API server adds to a stored object. */
export interface StoredMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  /** Set once the object is being deleted; it goes when its finalizers are gone. */
  deletionTimestamp?: string;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** A Lifeboat object as read from the API server. */
export type Stored<T extends { metadata: object }> = T & { metadata: T['metadata'] & StoredMeta };

export interface StatusUpdate<T> {
  /** Whether this call wrote a change. */
  readonly changed: boolean;
  /** The object as read before the change; undefined when it does not exist. */
  readonly before: T | undefined;
  /** The object as stored afterwards; undefined when it does not exist. */
  readonly after: T | undefined;
}

/** Reads before giving up on a stream of conflicts. */
export const STATUS_ATTEMPTS = 5;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JSON merge patch (RFC 7386) that turns `before` into `after`; removed keys become null. */
export function mergePatch(before: Json, after: Json): Json {
  const patch: Json = {};
  for (const key of Object.keys(before)) if (after[key] === undefined) patch[key] = null;
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    if (value === undefined || isDeepStrictEqual(old, value)) continue;
    patch[key] = isObject(old) && isObject(value) ? mergePatch(old, value) : value;
  }
  return patch;
}

/** Conditions this change added or altered are marked as observed at the object's generation. */
function stampObservedGeneration(before: Json | undefined, after: Json, generation: number | undefined): void {
  if (generation === undefined || !Array.isArray(after['conditions'])) return;
  const old = (Array.isArray(before?.['conditions']) ? before['conditions'] : []) as Condition[];
  after['conditions'] = (after['conditions'] as Condition[]).map((c) => {
    const previous = old.find((o) => o.type === c.type);
    return previous && isDeepStrictEqual(previous, c) ? c : { ...c, observedGeneration: generation };
  });
}

/**
 * Applies `change` to the status of a fresh copy of the object and writes the difference through
 * the status subresource. `change` must be pure and decide from the object it is given: after a
 * conflict it runs again on the newer object (so a claim guarded by "no phase yet" is a no-op when
 * another runner claimed first).
 */
export async function updateStatus<T extends { metadata: object; status?: object }>(
  client: StatusClient,
  kind: LifeboatKind,
  namespace: string,
  name: string,
  change: (object: Stored<T>) => void,
): Promise<StatusUpdate<Stored<T>>> {
  for (let attempt = 1; ; attempt++) {
    const before = (await client.getLifeboat(kind, namespace, name)) as Stored<T> | undefined;
    if (before === undefined) return { changed: false, before, after: undefined };
    const draft = structuredClone(before);
    change(draft);
    const oldStatus = (before.status ?? {}) as Json;
    const newStatus = (draft.status ?? {}) as Json;
    stampObservedGeneration(oldStatus, newStatus, before.metadata.generation);
    const patch = mergePatch(oldStatus, newStatus);
    if (Object.keys(patch).length === 0) return { changed: false, before, after: before };
    try {
      const resourceVersion = before.metadata.resourceVersion ?? '';
      const after = await client.patchLifeboatStatus(kind, namespace, name, { status: patch, resourceVersion });
      return { changed: true, before, after: after as Stored<T> };
    } catch (err) {
      if (!(err instanceof KubeConflictError) || attempt >= STATUS_ATTEMPTS) throw err;
    }
  }
}

/** The object one writer acts for: its kind, where it is, and the uid it was claimed with. */
export interface OwnObject {
  readonly kind: LifeboatKind;
  readonly namespace: string;
  readonly name: string;
  /**
   * An object of that name with another uid (the one acted for was deleted and applied anew) is
   * not this writer's: it is answered as missing and never written. Undefined: any uid.
   */
  readonly uid: string | undefined;
}

/**
 * updateStatus for the object of one uid only. The patch carries the resourceVersion read, which
 * only that object ever had, so the check and the write cannot be split by a re-creation.
 */
export function updateOwnStatus<T extends { metadata: object; status?: object }>(
  client: StatusClient,
  own: OwnObject,
  change: (object: Stored<T>) => void,
): Promise<StatusUpdate<Stored<T>>> {
  const guarded: StatusClient = {
    getLifeboat: async (kind, namespace, name) => {
      const read = (await client.getLifeboat(kind, namespace, name)) as Stored<T> | undefined;
      return own.uid === undefined || read?.metadata.uid === own.uid ? read : undefined;
    },
    patchLifeboatStatus: (kind, namespace, name, patch) => client.patchLifeboatStatus(kind, namespace, name, patch),
  };
  return updateStatus<T>(guarded, own.kind, own.namespace, own.name, change);
}

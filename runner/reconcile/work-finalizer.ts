// The runner's finalizer on work it claimed (FINALIZER_WORKER): added before a worker starts,
// removed once the worker has stopped after a deletion, or once the work has finished. Every write
// sets the whole list from a fresh read, guarded by that read's resourceVersion, and applies only to
// the object of the uid the runner judged: one deleted and applied anew is left alone.
import { FINALIZER_WORKER } from '../../crds/api-constants.js';
import type { LifeboatKind } from '../../crds/kinds.js';
import { KubeConflictError } from '../../lib/kube-errors.js';
import { STATUS_ATTEMPTS, type StoredMeta } from '../status/status-writer.js';

export interface FinalizerClient {
  getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown>;
  patchLifeboatFinalizers(
    kind: LifeboatKind,
    namespace: string,
    name: string,
    finalizers: readonly string[],
    resourceVersion: string,
  ): Promise<unknown>;
}

type WithMeta = { metadata: StoredMeta };

export function holdsWorker(object: WithMeta | undefined): boolean {
  return object?.metadata.finalizers?.includes(FINALIZER_WORKER) === true;
}

export interface FinalizerTarget {
  readonly kind: LifeboatKind;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string | undefined;
}

/**
 * Adds (`hold` true) or removes the finalizer; returns the object as stored afterwards, or
 * undefined when it is gone or another object of that name. No finalizer is added to an object
 * being deleted (the API server refuses it): that object is returned as it is.
 */
export async function setWorkerFinalizer<T extends WithMeta>(
  client: FinalizerClient,
  target: FinalizerTarget,
  hold: boolean,
): Promise<T | undefined> {
  const { kind, namespace, name, uid } = target;
  for (let attempt = 1; ; attempt++) {
    const read = (await client.getLifeboat(kind, namespace, name)) as T | undefined;
    if (!read || (uid !== undefined && read.metadata.uid !== uid)) return undefined;
    const finalizers = nextFinalizers(read, hold);
    if (!finalizers) return read;
    try {
      const after = await client.patchLifeboatFinalizers(
        kind,
        namespace,
        name,
        finalizers,
        read.metadata.resourceVersion ?? '',
      );
      return after as T | undefined;
    } catch (err) {
      if (!(err instanceof KubeConflictError) || attempt >= STATUS_ATTEMPTS) throw err;
    }
  }
}

/** The finalizers to write, or undefined when there is nothing to change. */
function nextFinalizers(read: WithMeta, hold: boolean): string[] | undefined {
  if (holdsWorker(read) === hold || (hold && read.metadata.deletionTimestamp)) return undefined;
  const others = (read.metadata.finalizers ?? []).filter((f) => f !== FINALIZER_WORKER);
  return hold ? [...others, FINALIZER_WORKER] : others;
}

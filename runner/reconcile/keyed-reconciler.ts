// What the runner's queue feeds: a reconciler for the objects of one kind, keyed
// `<name>/<namespace>/<object name>`. A kind may have several (a Cluster's bootstrap and its
// backup bookkeeping); an event on one kind may concern objects of another (a Backup that ends
// concerns its Cluster and its schedule). docs/runner.md, "Reconcilers".
import type { LifeboatKind } from '../../crds/kinds.js';
import type { InformerEvent } from './informer-loop.js';
import type { WorkResult } from './work-queue.js';

export interface ObjectRef {
  readonly namespace: string;
  readonly name: string;
}

export interface KeyedReconciler {
  /** The first part of its queue keys; unique in the runner. */
  readonly name: string;
  /** The kind of the objects it reconciles; their events queue them. */
  readonly watches: LifeboatKind;
  reconcile(namespace: string, name: string): Promise<WorkResult>;
  /** Objects of `watches` that an event on any kind concerns besides its own. */
  related?(event: InformerEvent): readonly ObjectRef[];
  /** The object was deleted (called on the leader only, before the key is queued once more). */
  onDeleted?(event: InformerEvent): void;
  /** The runner took or lost the lead: timers belong to the leader only. */
  onLeadership?(leading: boolean): void;
}

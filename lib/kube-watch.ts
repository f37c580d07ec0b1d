// Watching Lifeboat objects: client-node's Watch, with its ends reported once and as KubeApiErrors.
import type { KubeConfig } from '@kubernetes/client-node';
import { GROUP, KIND_PLURALS, VERSION } from '../crds/api-constants.js';
import type { LifeboatKind } from '../crds/kinds.js';
import { clientNode } from './client-node.js';
import { apiError, watchEventError, type KubeApiError } from './kube-errors.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchRequest {
  readonly kind: LifeboatKind;
  /** One namespace, or every namespace when absent. */
  readonly namespace?: string;
  readonly resourceVersion: string;
  /** The API server ends the watch after this long, so a silently dead connection is noticed. */
  readonly timeoutSeconds?: number;
}

export interface WatchHandle {
  /** Ends the watch; its callbacks are not called any more. */
  stop(): void;
}

export function lifeboatPath(kind: LifeboatKind, namespace: string | undefined): string {
  const scope = namespace ? `/namespaces/${namespace}` : '';
  return `/apis/${GROUP}/${VERSION}${scope}/${KIND_PLURALS[kind]}`;
}

export function describeKind(kind: LifeboatKind, namespace: string | undefined): string {
  return `${KIND_PLURALS[kind]}.${GROUP} ${namespace ? `in namespace ${namespace}` : 'in all namespaces'}`;
}

/**
 * Streams changes of a kind from `resourceVersion` on. `onDone` is called once when the watch
 * ends: without an error when the server closed it (watch again from the last version seen),
 * with KubeGoneError when that version is too old (list again), or with another KubeApiError.
 * Rejects when the watch cannot be started at all.
 */
export async function watchLifeboat(
  config: KubeConfig,
  request: WatchRequest,
  onEvent: (type: WatchEventType, object: unknown) => void,
  onDone: (err: KubeApiError | undefined) => void,
): Promise<WatchHandle> {
  const what = `watch ${describeKind(request.kind, request.namespace)}`;
  let finished = false;
  const done = (err: unknown): void => {
    if (finished) return;
    finished = true;
    onDone(err ? apiError(what, err, config) : undefined);
  };
  const query = {
    resourceVersion: request.resourceVersion,
    allowWatchBookmarks: true,
    timeoutSeconds: request.timeoutSeconds,
  };
  const onLine = (type: string, object: unknown): void => {
    if (finished) return;
    // The API server ends the stream after an ERROR event; report it as the reason it ended.
    if (type === 'ERROR') done(watchEventError(what, object));
    else onEvent(type as WatchEventType, object);
  };
  let controller: AbortController;
  try {
    const watch = new (clientNode().Watch)(config);
    controller = await watch.watch(lifeboatPath(request.kind, request.namespace), query, onLine, done);
  } catch (err) {
    throw apiError(what, err, config);
  }
  return {
    stop: () => {
      finished = true;
      controller.abort();
    },
  };
}

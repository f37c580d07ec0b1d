// What the schedule e2e files share: the Backups of a namespace and the ticks they were made for.
import { GROUP, VERSION } from '../../crds/api-constants.js';
import { kube, type KubeObject, type TestNamespace } from './kube.js';

export const SCHEDULED_AT = 'lifeboat.dev/scheduled-at';

export async function backups(ns: TestNamespace): Promise<KubeObject[]> {
  const list = (await kube().custom.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: ns.name,
    plural: 'backups',
  })) as { items: KubeObject[] };
  return list.items;
}

/** The ticks the namespace's Backups were created for (their scheduled-at annotation), oldest first. */
export async function ticks(ns: TestNamespace): Promise<number[]> {
  return (await backups(ns)).map((b) => Date.parse(b.metadata.annotations?.[SCHEDULED_AT] ?? '')).sort((a, b) => a - b);
}

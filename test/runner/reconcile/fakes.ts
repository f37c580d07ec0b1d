// Small fakes for the runner's unit tests: a clock driven by hand, a silent logger, and an API
// server in memory that stores Lifeboat objects, applies status merge patches guarded by
// resourceVersion as the real one does, and collects Events.
import type { CoreV1Event } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { LifeboatKind } from '../../../crds/kinds.js';
import { KubeConflictError, type StatusPatch } from '../../../lib/kube-client.js';
import type { Logger } from '../../../lib/logger.js';
import type { Clock, TimerHandle } from '../../../runner/reconcile/clock.js';
import type { EventClient } from '../../../runner/status/event-recorder.js';
import type { StatusClient } from '../../../runner/status/status-writer.js';

export const silentLog: Logger = pino({ level: 'silent' });

/** Lets every promise chain that is ready run to its next real wait. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Time moves only when a test calls advance(); due timers fire in order, promises settle between. */
export class FakeClock implements Clock {
  private timers: Timer[] = [];
  private seq = 0;

  constructor(private t = Date.parse('2026-01-01T00:00:00Z')) {}

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): TimerHandle {
    const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /** Timers still waiting. */
  pending(): number[] {
    return this.timers.filter((t) => !t.cancelled).map((t) => t.at - this.t);
  }

  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      await settle();
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = target;
    await settle();
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7386, as the API server applies application/merge-patch+json. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: Json = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

interface StoredObject {
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    resourceVersion: string;
    uid: string;
    generation: number;
    deletionTimestamp?: string;
    finalizers?: string[];
  };
  spec?: Json;
  status?: Json;
}

/** An API server in memory for Lifeboat objects and Events. */
export class FakeLifeboatApi implements StatusClient, EventClient {
  readonly objects = new Map<string, StoredObject>();
  readonly patches: { key: string; patch: StatusPatch }[] = [];
  readonly events: CoreV1Event[] = [];
  reads = 0;
  /** The next N status patches fail with 409, as if someone wrote just before. */
  conflicts = 0;
  /** Called before each patch is applied: a test's chance to change the object in between. */
  beforePatch: (() => void) | undefined;
  private version = 100;

  put(kind: LifeboatKind, object: Json): StoredObject {
    const meta = object['metadata'] as { name: string; namespace?: string };
    const stored = structuredClone({
      ...object,
      kind,
      metadata: {
        ...meta,
        namespace: meta.namespace ?? 'shop',
        uid: (meta as { uid?: string }).uid ?? `uid-${meta.name}`,
        generation: 1,
        resourceVersion: String(this.version++),
      },
    }) as StoredObject;
    this.objects.set(`${kind}/${stored.metadata.namespace}/${meta.name}`, stored);
    return stored;
  }

  get(kind: LifeboatKind, namespace: string, name: string): StoredObject | undefined {
    return this.objects.get(`${kind}/${namespace}/${name}`);
  }

  /** Writes status as another actor (a worker) would, bumping the resourceVersion. */
  setStatus(kind: LifeboatKind, namespace: string, name: string, status: Json): void {
    const stored = this.get(kind, namespace, name);
    if (!stored) throw new Error(`no ${kind} ${namespace}/${name}`);
    stored.status = { ...stored.status, ...status };
    stored.metadata.resourceVersion = String(this.version++);
  }

  async listLifeboat(kind: LifeboatKind, namespace?: string): Promise<{ items: unknown[]; resourceVersion: string }> {
    const prefix = namespace === undefined ? `${kind}/` : `${kind}/${namespace}/`;
    const items = [...this.objects.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .map(([, o]) => structuredClone(o));
    return { items, resourceVersion: String(this.version) };
  }

  async getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown> {
    this.reads++;
    await Promise.resolve();
    const stored = this.get(kind, namespace, name);
    return stored ? structuredClone(stored) : undefined;
  }

  async patchLifeboatStatus(kind: LifeboatKind, namespace: string, name: string, patch: StatusPatch): Promise<unknown> {
    await Promise.resolve();
    this.beforePatch?.();
    const key = `${kind}/${namespace}/${name}`;
    const stored = this.objects.get(key);
    if (!stored) throw new Error(`no ${key}`);
    if (this.conflicts > 0 || patch.resourceVersion !== stored.metadata.resourceVersion) {
      if (this.conflicts > 0) this.conflicts--;
      throw new KubeConflictError(`patch ${key}: the object has been modified`, 409);
    }
    this.patches.push({ key, patch: structuredClone(patch) });
    stored.status = applyMergePatch(stored.status, patch.status) as Json;
    stored.metadata.resourceVersion = String(this.version++);
    return structuredClone(stored);
  }

  /** Sets metadata.finalizers as the API server applies a merge patch guarded by resourceVersion. */
  async patchLifeboatFinalizers(
    kind: LifeboatKind,
    namespace: string,
    name: string,
    finalizers: readonly string[],
    resourceVersion: string,
  ): Promise<unknown> {
    await Promise.resolve();
    const key = `${kind}/${namespace}/${name}`;
    const stored = this.objects.get(key);
    if (!stored) return undefined;
    if (resourceVersion !== stored.metadata.resourceVersion) {
      throw new KubeConflictError(`patch ${key}: the object has been modified`, 409);
    }
    this.finalizerPatches.push({ key, finalizers: [...finalizers] });
    stored.metadata.finalizers = [...finalizers];
    stored.metadata.resourceVersion = String(this.version++);
    if (stored.metadata.deletionTimestamp && finalizers.length === 0) {
      this.objects.delete(key);
      return undefined;
    }
    return structuredClone(stored);
  }

  readonly finalizerPatches: { key: string; finalizers: string[] }[] = [];

  /** A delete as the API server does it: gone at once without finalizers, else marked as being deleted. */
  delete(kind: LifeboatKind, namespace: string, name: string, at = '2026-01-01T00:00:00Z'): void {
    const key = `${kind}/${namespace}/${name}`;
    const stored = this.objects.get(key);
    if (!stored) return;
    if ((stored.metadata.finalizers ?? []).length === 0) {
      this.objects.delete(key);
      return;
    }
    stored.metadata.deletionTimestamp ??= at;
    stored.metadata.resourceVersion = String(this.version++);
  }

  async createEvent(_namespace: string, event: CoreV1Event): Promise<void> {
    await Promise.resolve();
    this.events.push(event);
  }
}

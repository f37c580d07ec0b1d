// Kubernetes Events (core/v1) about Lifeboat objects, so `kubectl describe backup` tells the story.
// Recording is best effort: an Event that cannot be written is logged, never fails the work.
import { hostname } from 'node:os';
import type { CoreV1Event } from '@kubernetes/client-node';
import { API_VERSION } from '../../crds/api-constants.js';
import type { LifeboatKind } from '../../crds/kinds.js';
import type { Logger } from '../../lib/logger.js';
import { systemClock, type Clock } from '../reconcile/clock.js';
import type { Reason } from './conditions.js';
import type { StoredMeta } from './status-writer.js';

export interface EventClient {
  createEvent(namespace: string, event: CoreV1Event): Promise<void>;
}

export interface InvolvedObject {
  readonly kind: LifeboatKind;
  readonly metadata: StoredMeta;
}

export interface EventInput {
  readonly type: 'Normal' | 'Warning';
  readonly reason: Reason;
  readonly message: string;
}

export interface EventRecorderOptions {
  /** source.component of every Event. Default `lifeboat-runner`. */
  readonly component?: string;
  readonly host?: string;
  readonly clock?: Clock;
  readonly log: Logger;
}

/** The API server caps names at 253; the suffix takes 17. */
const NAME_PREFIX_MAX = 253 - 17;
const MESSAGE_MAX = 1024;

/**
 * A second line of defence: messages are written without secrets, but one quoted from a tool or a
 * URL could carry a password. Credentials in URLs and `password=…`-style pairs are masked.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/(\/\/)[^/@\s:]+:[^/@\s]+@/g, '$1[redacted]@')
    .replace(
      /\b(password|passwd|pwd|secret|token|secretAccessKey)(\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)/gi,
      '$1$2[redacted]',
    );
}

export class EventRecorder {
  private readonly clock: Clock;
  private readonly component: string;
  private readonly host: string;
  private sequence = 0;

  constructor(
    private readonly client: EventClient,
    private readonly options: EventRecorderOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.component = options.component ?? 'lifeboat-runner';
    this.host = options.host ?? hostname();
  }

  /** Writes one Event about the object; failures are logged and swallowed. */
  async record(about: InvolvedObject, input: EventInput): Promise<void> {
    const namespace = about.metadata.namespace ?? 'default';
    const event = this.build(about, input);
    try {
      await this.client.createEvent(namespace, event);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.options.log.warn({ namespace, name: about.metadata.name, reason: input.reason, err: message }, 'Event lost');
    }
  }

  build(about: InvolvedObject, input: EventInput): CoreV1Event {
    const now = new Date(this.clock.now());
    const name = about.metadata.name ?? 'unnamed';
    // Unique per runner and moment, as client-go names Events: <object>.<hex timestamp>.
    const suffix = (BigInt(now.getTime()) * 1_000_000n + BigInt(this.sequence++ % 1_000_000)).toString(16);
    return {
      metadata: { name: `${name.slice(0, NAME_PREFIX_MAX)}.${suffix}`, namespace: about.metadata.namespace },
      involvedObject: {
        apiVersion: API_VERSION,
        kind: about.kind,
        namespace: about.metadata.namespace,
        name,
        uid: about.metadata.uid,
        resourceVersion: about.metadata.resourceVersion,
      },
      type: input.type,
      reason: input.reason,
      message: redactSecrets(input.message).slice(0, MESSAGE_MAX),
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.component, host: this.host },
      reportingComponent: this.component,
      reportingInstance: this.host,
    };
  }
}

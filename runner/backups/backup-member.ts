// The Galera member a backup reads, held for it alone (worker/member-lease.ts): choose among the
// members no other backup holds, take the chosen one's Lease, and choose again if another worker
// took it first. With every allowed member busy, wait for one, as long as the worker is not stopped.
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../../lib/logger.js';
import { SourceBusyError } from '../engine/source-choice.js';
import type { SelectedSource } from '../engine/source-selection.js';
import { busyMembers, holdMember, type MemberHold, type MemberLeaseOptions } from '../worker/member-lease.js';

export interface HeldSource {
  readonly source: SelectedSource;
  /** Released when the backup ends; none where members are not coordinated (not Galera, no Lease access). */
  readonly hold?: MemberHold;
}

export interface MemberChoiceInput {
  /** Undefined: no coordination, the first choice stands. */
  readonly leases: MemberLeaseOptions | undefined;
  readonly instances: readonly string[];
  readonly choose: (busy: ReadonlySet<string>) => Promise<SelectedSource>;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** How long to wait before looking again when every member is busy. Default 10 s. */
  readonly retryMs?: number;
}

export async function chooseHeldSource(input: MemberChoiceInput): Promise<HeldSource> {
  const { leases, log } = input;
  if (!leases) return { source: await input.choose(new Set()) };
  let waitingFor: string | undefined;
  for (;;) {
    input.signal.throwIfAborted();
    const busy = await busyMembers(leases, input.instances);
    let source: SelectedSource;
    try {
      source = await input.choose(busy);
    } catch (err) {
      if (!(err instanceof SourceBusyError)) throw err;
      if (waitingFor !== err.message) log.info({ busy: err.members }, `waiting: ${err.message}`);
      waitingFor = err.message;
      await delay(input.retryMs ?? 10_000, undefined, { signal: input.signal }).catch(() => undefined);
      continue;
    }
    const hold = await holdMember(leases, source.instance.name).catch(async (err: unknown) => {
      await source.connection.close();
      throw err;
    });
    if (hold) return { source, hold };
    // Another backup took it between the look and the Lease: choose again, seeing it busy.
    await source.connection.close();
  }
}

// One backup per Galera member (fake Leases, fake choice): of two backups choosing at the same
// moment each gets its own member; with every member busy a backup waits for one to be released;
// a Lease whose holder stopped renewing is taken over.
import assert from 'node:assert/strict';
import { chooseHeldSource } from '../../../runner/backups/backup-member.js';
import { SourceBusyError } from '../../../runner/engine/source-choice.js';
import type { SelectedSource } from '../../../runner/engine/source-selection.js';
import { KubeConflictError } from '../../../lib/kube-errors.js';
import type { LeaseRecord } from '../../../lib/kube-lease.js';
import {
  holdMember,
  memberLeaseName,
  releaseDeadHolder,
  type MemberLeaseApi,
  type MemberLeaseOptions,
} from '../../../runner/worker/member-lease.js';
import { silentLog } from '../reconcile/fakes.js';

/** Leases in memory: create answers 409 when one exists, replace 409 on a stale resourceVersion. */
class FakeLeases implements MemberLeaseApi {
  readonly leases = new Map<string, LeaseRecord>();
  private version = 1;

  async getLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    await Promise.resolve();
    return this.leases.get(`${namespace}/${name}`);
  }

  async createLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    await Promise.resolve();
    const key = `${namespace}/${name}`;
    if (this.leases.has(key)) throw new KubeConflictError(`create Lease ${key}: exists`, 409);
    const stored = { ...record, resourceVersion: String(this.version++) };
    this.leases.set(key, stored);
    return stored;
  }

  async replaceLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    await Promise.resolve();
    const key = `${namespace}/${name}`;
    if (this.leases.get(key)?.resourceVersion !== record.resourceVersion) {
      throw new KubeConflictError(`replace Lease ${key}: modified`, 409);
    }
    const stored = { ...record, resourceVersion: String(this.version++) };
    this.leases.set(key, stored);
    return stored;
  }

  async deleteLease(namespace: string, name: string): Promise<void> {
    await Promise.resolve();
    this.leases.delete(`${namespace}/${name}`);
  }
}

const MEMBERS = ['db-0', 'db-1', 'db-2'];

/** prefer-standby, as far as this test needs it: the highest standby not busy, else wait. */
async function choose(busy: ReadonlySet<string>): Promise<SelectedSource> {
  await Promise.resolve();
  const free = ['db-2', 'db-1'].find((m) => !busy.has(m));
  if (!free) throw new SourceBusyError(['db-2', 'db-1']);
  const instance = { name: free } as SelectedSource['instance'];
  return {
    instance,
    desync: true,
    waived: [],
    why: 'test',
    connection: { close: async () => {} },
  } as unknown as SelectedSource;
}

function leasesFor(api: FakeLeases, holder: string, now = Date.now): MemberLeaseOptions {
  return { api, namespace: 'shop', clusterUid: 'cluster-uid', holder, log: silentLog, now };
}

describe('one backup per Galera member (fake Leases)', () => {
  const signal = new AbortController().signal;

  it('two backups choosing at the same moment back up from different members', async () => {
    const api = new FakeLeases();
    const [a, b] = await Promise.all(
      ['shop/b1/u1', 'shop/b2/u2'].map((holder) =>
        chooseHeldSource({ leases: leasesFor(api, holder), instances: MEMBERS, choose, signal, log: silentLog }),
      ),
    );
    assert.notEqual(a?.source.instance.name, b?.source.instance.name);
    assert.deepEqual([a?.source.instance.name, b?.source.instance.name].sort(), ['db-1', 'db-2']);
    await a?.hold?.release();
    await b?.hold?.release();
    assert.equal(api.leases.size, 0, 'released');
  });

  it('with every standby busy, a third backup waits and takes the first one released', async () => {
    const api = new FakeLeases();
    const first = await chooseHeldSource({
      leases: leasesFor(api, 'b1'),
      instances: MEMBERS,
      choose,
      signal,
      log: silentLog,
    });
    const second = await chooseHeldSource({
      leases: leasesFor(api, 'b2'),
      instances: MEMBERS,
      choose,
      signal,
      log: silentLog,
    });
    let third: string | undefined;
    const waiting = chooseHeldSource({
      leases: leasesFor(api, 'b3'),
      instances: MEMBERS,
      choose,
      signal,
      log: silentLog,
      retryMs: 10,
    }).then((held) => (third = held.source.instance.name));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(third, undefined, 'still waiting');
    await second.hold?.release();
    await waiting;
    assert.equal(third, second.source.instance.name);
    await first.hold?.release();
  });

  it('a member Lease left by a worker that died is taken over once it has gone unrenewed for its duration', async () => {
    const api = new FakeLeases();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const clock = (): number => now;
    const dead = await chooseHeldSource({
      leases: leasesFor(api, 'b1', clock),
      instances: MEMBERS,
      choose,
      signal,
      log: silentLog,
    });
    assert.equal(dead.source.instance.name, 'db-2');
    now += 61_000;
    const next = await chooseHeldSource({
      leases: leasesFor(api, 'b2', clock),
      instances: MEMBERS,
      choose,
      signal,
      log: silentLog,
    });
    assert.equal(next.source.instance.name, 'db-2');
    await next.hold?.release();
    await dead.hold?.release();
  });

  it("the runner releases the member Lease of a worker it judged dead, and no other holder's (fake Leases)", async () => {
    const api = new FakeLeases();
    const dead = await holdMember(leasesFor(api, 'shop/b1/u1'), 'db-2');
    assert.ok(dead);
    const where = { namespace: 'shop', clusterUid: 'cluster-uid', instance: 'db-2' };
    assert.equal(await releaseDeadHolder(api, where, 'shop/b9/u9'), false, 'another holder');
    assert.ok(await api.getLease('shop', memberLeaseName('cluster-uid', 'db-2')));
    assert.equal(await releaseDeadHolder(api, where, 'shop/b1/u1'), true);
    assert.equal(await api.getLease('shop', memberLeaseName('cluster-uid', 'db-2')), undefined);
    const next = await holdMember(leasesFor(api, 'shop/b2/u2'), 'db-2');
    assert.ok(next, 'the next backup takes the member at once');
    await next.release();
    await dead.release();
  });
});

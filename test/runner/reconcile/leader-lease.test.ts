// Leader election against a Lease held in memory (fake API that enforces resourceVersion like the
// real one) and a fake clock: one leader, take-over after expiry, at once after a release.
import assert from 'node:assert/strict';
import { KubeApiError, KubeConflictError, type LeaseRecord } from '../../../lib/kube-client.js';
import { LeaderLease, leaseExpired, type LeaseApi } from '../../../runner/reconcile/leader-lease.js';
import { FakeClock, silentLog } from './fakes.js';

class FakeLeaseApi implements LeaseApi {
  lease: LeaseRecord | undefined;
  failing = false;
  /** Reads never answer: an API call stuck without a timeout. */
  hanging = false;
  writes = 0;
  private version = 1;

  async getLease(): Promise<LeaseRecord | undefined> {
    await (this.hanging ? new Promise(() => undefined) : Promise.resolve());
    if (this.failing) throw new KubeApiError('read Lease: the API server could not be reached', 0);
    return this.lease && { ...this.lease };
  }

  async createLease(_ns: string, _name: string, record: LeaseRecord): Promise<LeaseRecord> {
    await Promise.resolve();
    if (this.lease) throw new KubeConflictError('create Lease: already exists', 409);
    return this.store(record);
  }

  async replaceLease(_ns: string, _name: string, record: LeaseRecord): Promise<LeaseRecord> {
    await Promise.resolve();
    if (this.failing) throw new KubeApiError('replace Lease: the API server could not be reached', 0);
    if (record.resourceVersion !== this.lease?.resourceVersion) throw new KubeConflictError('replace Lease', 409);
    return this.store(record);
  }

  private store(record: LeaseRecord): LeaseRecord {
    this.writes++;
    this.lease = { ...record, resourceVersion: String(this.version++) };
    return { ...this.lease };
  }
}

function candidate(api: LeaseApi, clock: FakeClock, identity: string, transitions: string[]): LeaderLease {
  return new LeaderLease(api, {
    namespace: 'lifeboat-system',
    name: 'lifeboat-runner',
    identity,
    clock,
    log: silentLog,
    onStartedLeading: () => transitions.push(`${identity} leads`),
    onStoppedLeading: () => transitions.push(`${identity} stops`),
  });
}

function pair(): { api: FakeLeaseApi; clock: FakeClock; a: LeaderLease; b: LeaderLease; transitions: string[] } {
  const api = new FakeLeaseApi();
  const clock = new FakeClock();
  const transitions: string[] = [];
  return {
    api,
    clock,
    a: candidate(api, clock, 'a', transitions),
    b: candidate(api, clock, 'b', transitions),
    transitions,
  };
}

describe('leader lease (fake Lease API, fake clock)', () => {
  it('of two candidates started together, exactly one leads and keeps renewing', async () => {
    const { api, clock, a, b } = pair();
    a.start();
    b.start();
    await clock.advance(60_000);
    assert.equal([a, b].filter((c) => c.isLeader()).length, 1);
    assert.equal(api.lease?.holderIdentity, a.isLeader() ? 'a' : 'b');
    assert.equal(api.lease?.leaseDurationSeconds, 15);
    assert.ok(clock.now() - (api.lease?.renewTimeMs ?? 0) <= 5_000, 'renewed in the last 5 s');
  });

  it('a short lease (4 s) is renewed often enough that its leader never stops counting as leader', async () => {
    const api = new FakeLeaseApi();
    const clock = new FakeClock();
    const short = new LeaderLease(api, {
      namespace: 'lifeboat-system',
      name: 'lifeboat-runner',
      identity: 'a',
      leaseDurationSeconds: 4,
      clock,
      log: silentLog,
    });
    short.start();
    await clock.advance(100);
    for (let t = 0; t < 30_000; t += 250) {
      assert.ok(short.isLeader(), `leader at ${t} ms`);
      await clock.advance(250);
    }
  });

  it('a leader that dies is replaced once its lease has expired, not before', async () => {
    const { api, clock, a, b, transitions } = pair();
    a.start();
    await clock.advance(1);
    b.start();
    await clock.advance(10_000);
    assert.ok(a.isLeader() && !b.isLeader());
    await a.stop({ release: false });
    const lastRenew = api.lease?.renewTimeMs ?? 0;
    await clock.advance(lastRenew + 15_000 - clock.now());
    assert.equal(b.isLeader(), false, 'still within the lease duration');
    await clock.advance(2_001);
    assert.equal(b.isLeader(), true, 'took over at the first check after expiry');
    assert.equal(api.lease?.leaseTransitions, 1);
    assert.deepEqual(transitions, ['a leads', 'a stops', 'b leads']);
  });

  it('a released lease is taken over at the next check', async () => {
    const { api, clock, a, b } = pair();
    a.start();
    await clock.advance(1);
    b.start();
    await clock.advance(10_000);
    await a.stop({ release: true });
    assert.equal(api.lease?.holderIdentity, '');
    await clock.advance(2_000);
    assert.equal(b.isLeader(), true);
  });

  it('a leader that cannot renew steps down before its lease could expire', async () => {
    const { api, clock, a } = pair();
    a.start();
    await clock.advance(1);
    assert.equal(a.isLeader(), true);
    api.failing = true;
    const lastRenew = api.lease?.renewTimeMs ?? 0;
    await clock.advance(9_000);
    assert.equal(a.isLeader(), true);
    await clock.advance(2_000);
    assert.equal(a.isLeader(), false);
    assert.ok(clock.now() < lastRenew + 15_000, 'stepped down before anyone could take over');
  });

  it('a leader whose renewal hangs stops counting as leader at the renew deadline', async () => {
    const { api, clock, a } = pair();
    a.start();
    await clock.advance(1);
    assert.equal(a.isLeader(), true);
    api.hanging = true;
    await clock.advance(9_000);
    assert.equal(a.isLeader(), true);
    await clock.advance(2_000);
    assert.equal(a.isLeader(), false, 'not leading 11 s after the last renewal, with no answer from the API');
  });

  it('two candidates racing for an expired lease: the resourceVersion lets one win', async () => {
    const { api, clock, a, b } = pair();
    api.lease = {
      holderIdentity: 'dead',
      leaseDurationSeconds: 15,
      renewTimeMs: clock.now() - 60_000,
      leaseTransitions: 4,
      resourceVersion: '0',
    };
    a.start();
    b.start();
    await clock.advance(0);
    assert.equal([a, b].filter((c) => c.isLeader()).length, 1);
    assert.equal(api.lease.leaseTransitions, 5);
  });

  it('leaseExpired: released, never renewed, or renewTime + duration in the past', () => {
    const base = { holderIdentity: 'x', leaseDurationSeconds: 15, leaseTransitions: 0 };
    assert.equal(leaseExpired({ ...base, holderIdentity: '', renewTimeMs: 1_000 }, 1_000), true);
    assert.equal(leaseExpired(base, 1_000), true);
    assert.equal(leaseExpired({ ...base, renewTimeMs: 1_000 }, 16_000), false);
    assert.equal(leaseExpired({ ...base, renewTimeMs: 1_000 }, 16_001), true);
  });
});

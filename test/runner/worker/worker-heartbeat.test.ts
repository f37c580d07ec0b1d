// The worker's heartbeat Lease against fake Lease calls: created, renewed, deleted at the end, and
// the two ways a worker learns it has been given up.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { KubeConflictError, type LeaseRecord } from '../../../lib/kube-client.js';
import {
  heartbeatFromEnvironment,
  startHeartbeat,
  type Heartbeat,
  type HeartbeatLease,
} from '../../../runner/worker/worker-heartbeat.js';
import { silentLog } from '../reconcile/fakes.js';

/**
 * Lease calls that, like the API server, replace only at the current resourceVersion, and replace
 * a deleted Lease by creating a new one (with a new uid).
 */
class FakeLeaseCalls {
  readonly calls: string[] = [];
  readonly written: LeaseRecord[] = [];
  version = 0;
  uid = 0;
  exists = false;
  failReplace: Error | undefined;

  /** What a runner giving the worker up does. */
  deleteByRunner(): void {
    this.exists = false;
  }

  async getLease(): Promise<LeaseRecord | undefined> {
    this.calls.push('get');
    return this.exists ? this.stored() : undefined;
  }

  async createLease(_namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    this.calls.push(`create ${name}`);
    if (this.exists) throw new KubeConflictError('create Lease: already exists', 409);
    return this.write(record);
  }

  async replaceLease(_namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    this.calls.push(`replace ${name}`);
    if (this.failReplace) throw this.failReplace;
    if (!this.exists) return this.write(record);
    if (record.resourceVersion !== String(this.version)) throw new KubeConflictError('replace Lease: modified', 409);
    return this.write(record);
  }

  async deleteLease(_namespace: string, name: string): Promise<void> {
    this.calls.push(`delete ${name}`);
    this.exists = false;
  }

  private write(record: LeaseRecord): LeaseRecord {
    if (!this.exists) this.uid += 1;
    this.exists = true;
    this.version += 1;
    this.written.push(record);
    return this.stored();
  }

  private stored(): LeaseRecord {
    const last = this.written[this.written.length - 1];
    return {
      holderIdentity: '',
      leaseDurationSeconds: 0,
      leaseTransitions: 0,
      ...last,
      resourceVersion: String(this.version),
      uid: `uid-${this.uid}`,
    };
  }
}

// Renewed every third of 60 ms: every 20 ms.
const LEASE: HeartbeatLease = { namespace: 'lifeboat-system', name: 'lifeboat-worker-abc', durationSeconds: 0.06 };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** A lease clock that moves 1 ms per reading: renewals look timely whatever the real timers do. */
const steady = (): (() => number) => {
  let t = 0;
  return () => (t += 1);
};

/** The heartbeat on a steady clock, noting each time it gives itself up in `lost`. */
function beating(kube: FakeLeaseCalls, lost: string[]): Promise<Heartbeat> {
  return startHeartbeat({ kube, lease: LEASE, log: silentLog, onLost: (why) => lost.push(why), now: steady() });
}

describe('worker heartbeat (fake Lease calls)', () => {
  it('creates the Lease as host/pid, renews it, and deletes it when stopped', async () => {
    const kube = new FakeLeaseCalls();
    const lost: string[] = [];
    const hb = await beating(kube, lost);
    await sleep(100);
    await hb.stop();
    const renewals = kube.written.length - 1;
    assert.ok(renewals >= 2, `renewed at the resourceVersion of its last write (${renewals} times)`);
    assert.equal(kube.calls[0], 'create lifeboat-worker-abc');
    assert.equal(kube.calls[kube.calls.length - 1], 'delete lifeboat-worker-abc');
    assert.equal(kube.written[0]?.holderIdentity, `${hostname()}/${process.pid}`);
    const times = kube.written.map((r) => r.renewTimeMs ?? 0);
    assert.ok(
      times.every((t, i) => i === 0 || t >= (times[i - 1] ?? 0)),
      'renewTime moves forward',
    );
    const after = kube.calls.length;
    await sleep(50);
    assert.equal(kube.calls.length, after, 'no renewal after stop');
    assert.deepEqual(lost, []);
  });

  it('takes over a Lease left by an earlier start of the same claim', async () => {
    const kube = new FakeLeaseCalls();
    kube.exists = true;
    kube.version = 7;
    const hb = await startHeartbeat({ kube, lease: LEASE, log: silentLog, onLost: () => undefined, now: steady() });
    await hb.stop();
    assert.deepEqual(kube.calls.slice(0, 3), ['create lifeboat-worker-abc', 'get', 'replace lifeboat-worker-abc']);
    assert.ok(kube.version >= 8, 'written at the version read');
  });

  it('a Lease changed by someone else (409) is read again, and renewing goes on', async () => {
    const kube = new FakeLeaseCalls();
    const lost: string[] = [];
    const hb = await beating(kube, lost);
    kube.version += 5;
    const before = kube.written.length;
    await sleep(100);
    await hb.stop();
    assert.ok(kube.calls.includes('get'), 'read again after the conflict');
    assert.ok(kube.written.length > before, 'renewed after reading again');
    assert.deepEqual(lost, []);
  });

  it('its Lease deleted (a runner gave it up): onLost once, saying so; the Lease its renewal re-created is deleted', async () => {
    const kube = new FakeLeaseCalls();
    const lost: string[] = [];
    const hb = await beating(kube, lost);
    kube.deleteByRunner();
    await sleep(80);
    assert.deepEqual(lost, [
      'its heartbeat Lease lifeboat-system/lifeboat-worker-abc was deleted: a runner gave this worker up',
    ]);
    assert.equal(kube.exists, false, 'not left looking like a live worker');
    const calls = kube.calls.length;
    await sleep(50);
    assert.equal(kube.calls.length, calls, 'no renewal after that');
    await hb.stop();
  });

  it('no renewal for two thirds of the duration (fake clock): onLost before any runner gives it up; less is ridden out', async () => {
    const kube = new FakeLeaseCalls();
    const lost: string[] = [];
    let now = 1_000_000;
    const lease = { ...LEASE, durationSeconds: 60 / 1000 }; // ticks every 20 ms of real time
    const hb = await startHeartbeat({ kube, lease, log: silentLog, onLost: (why) => lost.push(why), now: () => now });
    kube.failReplace = new Error('connect ECONNREFUSED');
    now += 35; // the lease clock: 35 of 60 ms without a renewal
    await sleep(50);
    assert.deepEqual(lost, [], 'an outage shorter than two thirds of the duration');
    now += 10; // 45 ms > 40
    await sleep(50);
    await hb.stop();
    assert.deepEqual(lost, [
      'its heartbeat Lease lifeboat-system/lifeboat-worker-abc has not been renewed for 0.0 s, and runners give a worker up after 0.06 s',
    ]);
    assert.ok(kube.calls.includes('delete lifeboat-worker-abc'));
  });

  it('one renewal at a time: a slow one is not overlapped by the next tick', async () => {
    const kube = new FakeLeaseCalls();
    let running = 0;
    let most = 0;
    const slow = kube.replaceLease.bind(kube);
    kube.replaceLease = async (...args) => {
      running += 1;
      most = Math.max(most, running);
      await sleep(70); // longer than three ticks
      running -= 1;
      return slow(...args);
    };
    const hb = await startHeartbeat({ kube, lease: LEASE, log: silentLog, onLost: () => undefined, now: () => 0 });
    await sleep(150);
    await hb.stop();
    assert.equal(most, 1);
    assert.equal(kube.calls[kube.calls.length - 1], 'delete lifeboat-worker-abc', 'deleted after the last renewal');
  });

  it('reads the Lease the runner named from the environment', () => {
    assert.deepEqual(
      heartbeatFromEnvironment({ LIFEBOAT_WORKER_LEASE: 'ns/l1', LIFEBOAT_WORKER_LEASE_SECONDS: '30' }),
      { namespace: 'ns', name: 'l1', durationSeconds: 30 },
    );
    assert.equal(heartbeatFromEnvironment({ LIFEBOAT_WORKER_LEASE: 'ns/l1' })?.durationSeconds, 60);
    assert.equal(heartbeatFromEnvironment({}), undefined, 'a Job: no heartbeat');
    assert.equal(heartbeatFromEnvironment({ LIFEBOAT_WORKER_LEASE: 'l1' }), undefined);
  });
});

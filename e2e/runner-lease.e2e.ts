// Leader election on a real coordination.k8s.io/v1 Lease: two candidates in this process, each
// with its own client, a short lease so the test takes seconds, not minutes.
import assert from 'node:assert/strict';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { KubeClient, type LeaseRecord } from '../lib/kube-client.js';
import { LeaderLease, type LeaseApi } from '../runner/reconcile/leader-lease.js';
import { kube, namespacePerTest, type TestNamespace } from './support/kube.js';

const log = pino({ level: process.env['LIFEBOAT_LOG_LEVEL'] ?? 'silent' });
const LEASE = 'lifeboat-runner';
const DURATION_S = 3;
const RENEW_MS = 1_000;
const RETRY_MS = 250;

/**
 * The real client, timed: how soon a follower can take over depends on how long the API server
 * takes to answer, which on a loaded machine is hundreds of milliseconds, so the bounds below
 * count the slowest answer this candidate saw instead of guessing one.
 */
class TimedLeaseApi implements LeaseApi {
  slowestMs = 0;
  private readonly client = new KubeClient(kube().config);

  getLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    return this.timed(() => this.client.getLease(namespace, name));
  }

  createLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    return this.timed(() => this.client.createLease(namespace, name, record));
  }

  replaceLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    return this.timed(() => this.client.replaceLease(namespace, name, record));
  }

  private async timed<T>(call: () => Promise<T>): Promise<T> {
    const start = Date.now();
    try {
      return await call();
    } finally {
      this.slowestMs = Math.max(this.slowestMs, Date.now() - start);
    }
  }
}

interface Candidate {
  readonly lease: LeaderLease;
  readonly api: TimedLeaseApi;
}

function candidate(ns: TestNamespace, identity: string): Candidate {
  const api = new TimedLeaseApi();
  const lease = new LeaderLease(api, {
    namespace: ns.name,
    name: LEASE,
    identity,
    leaseDurationSeconds: DURATION_S,
    renewEveryMs: RENEW_MS,
    retryEveryMs: RETRY_MS,
    log,
  });
  return { lease, api };
}

/**
 * The latest a follower can notice a free lease and take it: the check under way when the lease
 * came free (one read), the retry pause, then a read and a write, plus the 25 ms polls here.
 */
function takeOverBudgetMs(follower: Candidate): number {
  return RETRY_MS + 3 * follower.api.slowestMs + 100;
}

/** Milliseconds until `probe` holds, or a failure after `timeoutMs`. */
async function within(what: string, timeoutMs: number, probe: () => boolean): Promise<number> {
  const start = Date.now();
  while (!probe()) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return Date.now() - start;
}

describe('runner leader lease on a real API server', function () {
  let ns: TestNamespace;
  let candidates: Candidate[] = [];
  const coordination = (): CoordinationV1Api => kube().config.makeApiClient(CoordinationV1Api);

  afterEach(async function () {
    for (const c of candidates) await c.lease.stop({ release: false });
    candidates = [];
    // Removed here: without kube-controller-manager the namespace cleanup would leave it in etcd.
    await coordination().deleteCollectionNamespacedLease({ namespace: ns.name });
  });
  namespacePerTest((created) => (ns = created));

  async function twoCandidates(): Promise<[Candidate, Candidate]> {
    const a = candidate(ns, 'runner-a');
    const b = candidate(ns, 'runner-b');
    candidates = [a, b];
    a.lease.start();
    b.lease.start();
    await within('a leader', 5_000, () => a.lease.isLeader() || b.lease.isLeader());
    // Watched for longer than a lease duration: a second leader would have shown by now.
    const until = Date.now() + DURATION_S * 1000 + RENEW_MS;
    while (Date.now() < until) {
      assert.ok(!(a.lease.isLeader() && b.lease.isLeader()), 'both candidates lead at once');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return a.lease.isLeader() ? [a, b] : [b, a];
  }

  const readLease = (): ReturnType<CoordinationV1Api['readNamespacedLease']> =>
    coordination().readNamespacedLease({ namespace: ns.name, name: LEASE });

  it('of two candidates exactly one leads, and the Lease names it', async function () {
    const [leader, follower] = await twoCandidates();
    assert.equal(leader.lease.isLeader(), true);
    assert.equal(follower.lease.isLeader(), false);
    const lease = await readLease();
    assert.equal(lease.spec?.holderIdentity, leader.lease.identity);
    assert.equal(lease.spec?.leaseDurationSeconds, DURATION_S);
    assert.match(JSON.stringify(lease.spec?.renewTime), /\.\d{3}/, 'renewTime is a MicroTime');
  });

  it('when the leader dies without releasing, the other leads once the lease expired, not before', async function () {
    const [leader, follower] = await twoCandidates();
    await leader.lease.stop({ release: false });
    const lastRenewal = (await readLease()).spec?.renewTime;
    assert.ok(lastRenewal, "the dead leader's Lease has a renewTime");
    const waited = await within('take-over', 15_000, () => follower.lease.isLeader());
    const budget = DURATION_S * 1000 + takeOverBudgetMs(follower);
    assert.ok(waited <= budget, `took over after ${waited} ms, more than the ${budget} ms it may take`);
    const lease = await readLease();
    assert.equal(lease.spec?.holderIdentity, follower.lease.identity);
    assert.equal(lease.spec?.leaseTransitions, 1);
    const acquiredAfterRenewal = new Date(lease.spec?.acquireTime ?? 0).getTime() - new Date(lastRenewal).getTime();
    assert.ok(
      acquiredAfterRenewal > DURATION_S * 1000,
      `taken over ${acquiredAfterRenewal} ms after the last renewal, before the lease expired`,
    );
  });

  it('when the leader releases on a clean shutdown, the other leads at once', async function () {
    const [leader, follower] = await twoCandidates();
    await leader.lease.stop({ release: true });
    const waited = await within('take-over', 15_000, () => follower.lease.isLeader());
    const budget = takeOverBudgetMs(follower);
    assert.ok(waited <= budget, `took over after ${waited} ms, not at once (${budget} ms allowed)`);
  });
});

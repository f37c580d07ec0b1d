// Leader election on a real coordination.k8s.io/v1 Lease: two candidates in this process, each
// with its own client, a short lease so the test takes seconds, not minutes.
import assert from 'node:assert/strict';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { KubeClient } from '../lib/kube-client.js';
import { LeaderLease } from '../runner/reconcile/leader-lease.js';
import { kube, namespacePerTest, type TestNamespace } from './support/kube.js';

const log = pino({ level: process.env['LIFEBOAT_LOG_LEVEL'] ?? 'silent' });
const LEASE = 'lifeboat-runner';
const DURATION_S = 3;
const RENEW_MS = 1_000;
const RETRY_MS = 250;

function candidate(ns: TestNamespace, identity: string): LeaderLease {
  return new LeaderLease(new KubeClient(kube().config), {
    namespace: ns.name,
    name: LEASE,
    identity,
    leaseDurationSeconds: DURATION_S,
    renewEveryMs: RENEW_MS,
    retryEveryMs: RETRY_MS,
    log,
  });
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
  let candidates: LeaderLease[] = [];
  const coordination = (): CoordinationV1Api => kube().config.makeApiClient(CoordinationV1Api);

  afterEach(async function () {
    for (const c of candidates) await c.stop({ release: false });
    candidates = [];
    // Removed here: without kube-controller-manager the namespace cleanup would leave it in etcd.
    await coordination().deleteCollectionNamespacedLease({ namespace: ns.name });
  });
  namespacePerTest((created) => (ns = created));

  async function twoCandidates(): Promise<[LeaderLease, LeaderLease]> {
    const a = candidate(ns, 'runner-a');
    const b = candidate(ns, 'runner-b');
    candidates = [a, b];
    a.start();
    b.start();
    await within('a leader', 5_000, () => a.isLeader() || b.isLeader());
    // Watched for longer than a lease duration: a second leader would have shown by now.
    const until = Date.now() + DURATION_S * 1000 + RENEW_MS;
    while (Date.now() < until) {
      assert.ok(!(a.isLeader() && b.isLeader()), 'both candidates lead at once');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return a.isLeader() ? [a, b] : [b, a];
  }

  it('of two candidates exactly one leads, and the Lease names it', async function () {
    const [leader, follower] = await twoCandidates();
    assert.equal(leader.isLeader(), true);
    assert.equal(follower.isLeader(), false);
    const lease = await coordination().readNamespacedLease({ namespace: ns.name, name: LEASE });
    assert.equal(lease.spec?.holderIdentity, leader.identity);
    assert.equal(lease.spec?.leaseDurationSeconds, DURATION_S);
    assert.match(JSON.stringify(lease.spec?.renewTime), /\.\d{3}/, 'renewTime is a MicroTime');
  });

  it('when the leader dies without releasing, the other leads within the lease duration', async function () {
    const [leader, follower] = await twoCandidates();
    await leader.stop({ release: false });
    const waited = await within('take-over', DURATION_S * 1000 + 2 * RETRY_MS + 1_000, () => follower.isLeader());
    assert.ok(waited <= DURATION_S * 1000 + 2 * RETRY_MS, `took over after ${waited} ms`);
    const lease = await coordination().readNamespacedLease({ namespace: ns.name, name: LEASE });
    assert.equal(lease.spec?.holderIdentity, follower.identity);
    assert.equal(lease.spec?.leaseTransitions, 1);
  });

  it('when the leader releases on a clean shutdown, the other leads at once', async function () {
    const [leader, follower] = await twoCandidates();
    await leader.stop({ release: true });
    const waited = await within('take-over', DURATION_S * 1000, () => follower.isLeader());
    assert.ok(waited <= 2 * RETRY_MS + 500, `took over after ${waited} ms, not after the lease duration`);
  });
});

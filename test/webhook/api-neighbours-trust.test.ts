// The lookups the trust policies need from the API (every Cluster, a Namespace's labels), and what a
// hung API server does to a review: against fake sources that can hang forever.
import assert from 'node:assert/strict';
import type { LifeboatKind } from '../../crds/kinds.js';
import { review } from '../../policies/engine.js';
import { DEFAULT_SETTINGS, type Neighbours } from '../../policies/policy-types.js';
import { judgeWithApi, LookupCache, NeighbourLookupError, type ObjectSource } from '../../webhook/api-neighbours.js';
import { backup, cluster } from '../helpers.js';

type Doc = Record<string, unknown>;

const store = { bucket: 'backups', path: 'prod', inheritFromIAMRole: true };

function clusterIn(namespace: string, name = 'shop'): Doc {
  const doc = cluster({ backup: { objectStore: store } }, name);
  return { ...doc, metadata: { name, namespace } };
}

/** A fake API server: every Cluster, Namespace labels, and a switch that makes every read hang. */
class FakeApi implements ObjectSource {
  readonly calls: string[] = [];
  hang = false;
  constructor(
    private readonly clusters: Doc[] = [],
    private readonly namespaces: Record<string, Record<string, string>> = {},
  ) {}

  private answer<T>(call: string, value: () => T): Promise<T> {
    this.calls.push(call);
    if (this.hang) return new Promise<T>(() => undefined);
    return Promise.resolve(value());
  }

  getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown> {
    return this.answer(`get ${kind} ${namespace}/${name}`, () =>
      this.clusters.find((c) => {
        const meta = c['metadata'] as { name: string; namespace: string };
        return kind === 'Cluster' && meta.namespace === namespace && meta.name === name;
      }),
    );
  }

  listLifeboat(kind: LifeboatKind): Promise<{ items: readonly unknown[] }> {
    return this.answer(`list ${kind}`, () => ({ items: kind === 'Cluster' ? this.clusters : [] }));
  }

  readNamespaceLabels(name: string): Promise<Record<string, string> | undefined> {
    return this.answer(`namespace ${name}`, () => this.namespaces[name]);
  }
}

function reviewIn(namespace: string, document: Doc) {
  return (neighbours: Neighbours) =>
    review({
      document,
      operation: 'CREATE',
      neighbours,
      settings: { ...DEFAULT_SETTINGS, defaultNamespace: namespace },
    });
}

const policies = (result: { findings: readonly { policy: string }[] }): string[] =>
  result.findings.map((f) => f.policy);

describe('API lookups for the trust policies (fake API)', () => {
  it('lists every Cluster once, so a Cluster writing where another one already does is refused, naming it', async () => {
    const api = new FakeApi([clusterIn('team-a')], { 'team-b': {} });
    const cache = new LookupCache(api);
    const result = await judgeWithApi(cache, reviewIn('team-b', clusterIn('team-b')));
    assert.deepEqual(policies(result), ['LB801', 'LB802']);
    assert.match(result.findings[0]?.message ?? '', /Cluster team-a\/shop already writes/);
    assert.equal(api.calls.filter((c) => c === 'list Cluster').length, 1);
  });

  it("a Backup with its Cluster's store lists no Clusters; one with a store aimed at another namespace's Cluster is refused (LB801)", async () => {
    const own = {
      ...cluster({ backup: { objectStore: { ...store, path: 'team-b' } } }),
      metadata: { name: 'shop', namespace: 'team-b' },
    };
    const api = new FakeApi([clusterIn('team-a'), own], { 'team-b': { 'lifeboat.dev/allow-iam-role': 'true' } });
    const plain = await judgeWithApi(new LookupCache(api), reviewIn('team-b', backup({}, { namespace: 'team-b' })));
    assert.deepEqual(policies(plain), []);
    assert.equal(api.calls.includes('list Cluster'), false, api.calls.join(', '));
    const aimed = backup({ objectStore: store }, { namespace: 'team-b' });
    const refused = await judgeWithApi(new LookupCache(api), reviewIn('team-b', aimed));
    assert.deepEqual(policies(refused), ['LB801']);
    assert.match(refused.findings[0]?.message ?? '', /Cluster team-a\/shop already writes/);
  });

  it("reads the Namespace's labels: the IAM role is admitted where the label allows it", async () => {
    const api = new FakeApi([], { 'team-a': { 'lifeboat.dev/allow-iam-role': 'true' } });
    const result = await judgeWithApi(new LookupCache(api), reviewIn('team-a', clusterIn('team-a')));
    assert.deepEqual(policies(result), []);
    assert.ok(api.calls.includes('namespace team-a'));
  });

  it('a hung API server: the review fails within the lookup timeout, saying so, and the hung read is not cached', async () => {
    const api = new FakeApi([clusterIn('team-a')], { 'team-b': {} });
    const cache = new LookupCache(api, { ttlMs: 1_000, maxEntries: 100, timeoutMs: 100 });
    api.hang = true;
    const started = Date.now();
    await assert.rejects(judgeWithApi(cache, reviewIn('team-b', clusterIn('team-b'))), (err: unknown) => {
      assert.ok(err instanceof NeighbourLookupError);
      assert.match(err.message, /no answer from the API server within 0\.1 s/);
      return true;
    });
    assert.ok(Date.now() - started < 1_000, `answered after ${Date.now() - started} ms`);
    // Reads still in flight when the review gave up end at their own deadline; none is kept after it.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const before = api.calls.length;
    api.hang = false;
    const result = await judgeWithApi(cache, reviewIn('team-b', clusterIn('team-b')));
    assert.ok(api.calls.length > before, 'the next review asked the API server again');
    assert.deepEqual(policies(result), ['LB801', 'LB802']);
  });
});

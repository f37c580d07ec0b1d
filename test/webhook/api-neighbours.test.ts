// API lookups for admission, against a fake ObjectSource that counts its reads: what the cache
// remembers and for how long, and how many rounds a judgement takes to learn its neighbours.
import assert from 'node:assert/strict';
import jsonPatch, { type Operation } from 'fast-json-patch';
import type { LifeboatKind } from '../../crds/kinds.js';
import { DEFAULT_SETTINGS, type Neighbours } from '../../policies/policy-types.js';
import { admit, type AdmissionMode } from '../../webhook/admission-adapter.js';
import { parseAdmissionReview, type AdmissionReviewResponse } from '../../webhook/admission-review.js';
import {
  judgeWithApi,
  LookupCache,
  NeighbourLookupError,
  type LookupCacheOptions,
  type ObjectSource,
} from '../../webhook/api-neighbours.js';
import { backup, cluster } from '../helpers.js';

type Doc = Record<string, unknown>;

/** An API server in memory: counts reads, and can be told to fail or to hold answers until released. */
class FakeSource implements ObjectSource {
  readonly calls: string[] = [];
  failure: Error | undefined;
  /** Prefixed to each recorded call, e.g. the judgement round that asked. */
  tag = '';
  private readonly objects = new Map<string, unknown>();
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  constructor(objects: Doc[] = []) {
    for (const o of objects) this.put(o);
  }

  put(object: Doc): void {
    const meta = object['metadata'] as { name: string; namespace: string };
    this.objects.set(`${String(object['kind'])} ${meta.namespace}/${meta.name}`, object);
  }

  /** Reads wait until release(); what they return is what is stored then. */
  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  async getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown> {
    const key = `${kind} ${namespace}/${name}`;
    this.calls.push(`${this.tag}${key}`);
    await this.gate;
    if (this.failure) throw this.failure;
    return structuredClone(this.objects.get(key));
  }
}

const inShop = (doc: Doc): Doc => ({ ...doc, metadata: { ...(doc['metadata'] as object), namespace: 'shop' } });
const SHOP = inShop(cluster());

function cacheOver(source: FakeSource, options: Partial<LookupCacheOptions> = {}) {
  let t = 0;
  const observed: string[] = [];
  const cache = new LookupCache(source, {
    ttlMs: 1_000,
    maxEntries: 100,
    now: () => t,
    observe: (result) => observed.push(result),
    ...options,
  });
  return { cache, observed, at: (ms: number) => (t = ms) };
}

describe('LookupCache (fake source)', () => {
  it('reuses a found object within the TTL and reads it again once the TTL has passed', async () => {
    const source = new FakeSource([SHOP]);
    const { cache, observed, at } = cacheOver(source);
    assert.deepEqual(await cache.getLifeboat('Cluster', 'shop', 'shop'), SHOP);
    at(999);
    assert.deepEqual(await cache.getLifeboat('Cluster', 'shop', 'shop'), SHOP);
    assert.equal(source.calls.length, 1, 'the second lookup, 999 ms later, was answered from the cache');
    at(1_000);
    await cache.getLifeboat('Cluster', 'shop', 'shop');
    assert.equal(source.calls.length, 2, 'after the TTL the object is read again');
    assert.deepEqual(observed, ['miss', 'hit', 'miss']);
  });

  it('coalesces concurrent lookups of one object into one read; other objects are read apart', async () => {
    const source = new FakeSource([SHOP, inShop(cluster({}, 'other'))]);
    const { cache, observed } = cacheOver(source);
    source.hold();
    const answers = Promise.all([
      cache.getLifeboat('Cluster', 'shop', 'shop'),
      cache.getLifeboat('Cluster', 'shop', 'shop'),
      cache.getLifeboat('Cluster', 'shop', 'shop'),
      cache.getLifeboat('Cluster', 'shop', 'other'),
    ]);
    assert.deepEqual(source.calls, ['Cluster shop/shop', 'Cluster shop/other']);
    source.release();
    const [first, second, third, other] = await answers;
    assert.deepEqual([first, second, third], [SHOP, SHOP, SHOP]);
    assert.equal((other as { metadata: { name: string } }).metadata.name, 'other');
    assert.equal(source.calls.length, 2);
    assert.deepEqual(observed, ['hit', 'hit', 'miss', 'miss']);
  });

  it('does not remember "not found": an object applied a moment later is seen at once', async () => {
    const source = new FakeSource();
    const { cache } = cacheOver(source);
    assert.equal(await cache.getLifeboat('Cluster', 'shop', 'shop'), undefined);
    source.put(SHOP);
    assert.deepEqual(await cache.getLifeboat('Cluster', 'shop', 'shop'), SHOP);
    assert.deepEqual(source.calls, ['Cluster shop/shop', 'Cluster shop/shop']);
  });

  it('does not remember an error: the lookup after a failure asks again', async () => {
    const source = new FakeSource([SHOP]);
    const { cache, observed } = cacheOver(source);
    const failure = new Error('connect ECONNREFUSED 10.96.0.1:443');
    source.failure = failure;
    await assert.rejects(cache.getLifeboat('Cluster', 'shop', 'shop'), (err) => err === failure);
    source.failure = undefined;
    assert.deepEqual(await cache.getLifeboat('Cluster', 'shop', 'shop'), SHOP);
    assert.equal(source.calls.length, 2);
    assert.deepEqual(observed, ['error', 'miss']);
  });

  it('forget drops a remembered object, so the next lookup reads what was written', async () => {
    const source = new FakeSource([SHOP]);
    const { cache } = cacheOver(source);
    await cache.getLifeboat('Cluster', 'shop', 'shop');
    const changed = inShop(cluster({ topology: 'replication' }));
    source.put(changed);
    assert.deepEqual(await cache.getLifeboat('Cluster', 'shop', 'shop'), SHOP, 'within the TTL: the remembered one');
    cache.forget('Cluster', 'shop', 'shop');
    assert.deepEqual(await cache.getLifeboat('Cluster', 'shop', 'shop'), changed);
    assert.equal(source.calls.length, 2);
  });

  it('forget during a read: that answer is not remembered', async () => {
    const source = new FakeSource([SHOP]);
    const { cache } = cacheOver(source);
    source.hold();
    const reading = cache.getLifeboat('Cluster', 'shop', 'shop');
    cache.forget('Cluster', 'shop', 'shop');
    source.release();
    await reading;
    await cache.getLifeboat('Cluster', 'shop', 'shop');
    assert.equal(source.calls.length, 2);
  });

  it('holds at most maxEntries, evicting the oldest', async () => {
    const source = new FakeSource(['a', 'b', 'c'].map((name) => inShop(cluster({}, name))));
    const { cache } = cacheOver(source, { maxEntries: 2 });
    const get = (name: string) => cache.getLifeboat('Cluster', 'shop', name);
    for (const name of ['a', 'b', 'c']) await get(name);
    assert.equal(source.calls.length, 3);
    await get('b');
    await get('c');
    assert.equal(source.calls.length, 3, 'b and c, the newest two, are still remembered');
    await get('a');
    assert.equal(source.calls.length, 4, 'a, the oldest, was evicted when c came');
    await get('b');
    assert.deepEqual(source.calls.slice(3), ['Cluster shop/a', 'Cluster shop/b'], 'a came back in place of b');
  });
});

function reviewOf(object: Doc, kind = String(object['kind'])) {
  const parsed = parseAdmissionReview({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: 'lifeboat.dev', version: 'v1alpha1', kind },
      namespace: 'shop',
      operation: 'CREATE',
      object,
    },
  });
  assert.ok('review' in parsed, JSON.stringify(parsed));
  return parsed.review;
}

/** judgeWithApi around the adapter, counting judgements and tagging each read with the judgement that asked. */
async function judged(source: FakeSource, object: Doc, mode: AdmissionMode = 'validate') {
  let judgements = 0;
  const out = await judgeWithApi(source, (neighbours: Neighbours): AdmissionReviewResponse => {
    judgements += 1;
    source.tag = `${judgements}: `;
    return admit(reviewOf(object), mode, neighbours, DEFAULT_SETTINGS);
  });
  return { out: out.response, judgements, calls: [...source.calls].sort() };
}

function restore(spec: Doc = {}): Doc {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Restore',
    metadata: { name: 'r' },
    spec: { cluster: { name: 'target' }, backup: { name: 'nightly' }, ...spec },
  };
}

const STORE = { bucket: 'backups', inheritFromIAMRole: true };
// A logical Backup: a physical one may not be restored into a running Cluster (LB107).
const nightly = {
  ...inShop(backup({ cluster: { name: 'origin' }, method: 'mariadb-dump' }, { name: 'nightly' })),
  status: { phase: 'completed', method: 'mariadb-dump' },
};
// A completed Backup that records no method: LB107 learns its kind from its Cluster's engine, one
// lookup further (Restore → Backup → Cluster), and every engine's default method is physical.
const unrecorded = {
  ...inShop(backup({ cluster: { name: 'origin' } }, { name: 'nightly' })),
  status: { phase: 'completed' },
};
const target = inShop(cluster({}, 'target'));
const origin = inShop(cluster({ backup: { objectStore: STORE } }, 'origin'));
const PHYSICAL_DENIAL =
  "LB107 spec.backup.name: Backup nightly is a physical backup (mariabackup), which cannot be applied to a running Cluster; restore it into a new Cluster with spec.bootstrap.recovery and lifeboat restore-datadir in the database pod's init container, or name a mariadb-dump Backup";

describe('judgeWithApi (fake source)', () => {
  it('Restore → Backup → Cluster: reads the Cluster and Backup, then the Backup’s Cluster, in three judgements', async () => {
    const source = new FakeSource([target, unrecorded, origin]);
    const { out, judgements, calls } = await judged(source, restore());
    assert.equal(out.allowed, false);
    assert.equal(out.status?.message, PHYSICAL_DENIAL);
    assert.equal(judgements, 3);
    assert.deepEqual(calls, ['1: Backup shop/nightly', '1: Cluster shop/target', '2: Cluster shop/origin']);
  });

  it('judges with what the last round read: the Backup’s Cluster is not there, so nothing says it is physical', async () => {
    const source = new FakeSource([target, unrecorded]);
    const { out, judgements } = await judged(source, restore());
    assert.equal(judgements, 3);
    assert.deepEqual(out, { uid: 'u-1', allowed: true, warnings: [] });
  });

  it('a missing Backup: the catalog’s denial, worded as a fact from the API, not an offline warning', async () => {
    const source = new FakeSource([target]);
    const { out, judgements, calls } = await judged(source, restore({ backup: { name: 'gone' } }));
    assert.equal(judgements, 2);
    assert.deepEqual(calls, ['1: Backup shop/gone', '1: Cluster shop/target']);
    assert.deepEqual(out.status, {
      code: 403,
      reason: 'Forbidden',
      message:
        'LB602 spec.backup.name: Backup gone does not exist in namespace shop; name a completed Backup (a restore that ran before its Backup was deleted need not run again: drop it from Git, or restore with source and backupID)',
    });
  });

  for (const name of ['a/b', 'UPPER', '-lead', 'a..b']) {
    it(`never asks the source for a name the API server would refuse: ${name}`, async () => {
      const source = new FakeSource([target]);
      const { out, calls } = await judged(source, restore({ backup: { name } }));
      assert.deepEqual(calls, ['1: Cluster shop/target']);
      assert.equal(
        out.status?.message,
        `LB602 spec.backup.name: Backup ${name} does not exist in namespace shop; name a completed Backup (a restore that ran before its Backup was deleted need not run again: drop it from Git, or restore with source and backupID)`,
      );
    });
  }

  it('a source that fails: NeighbourLookupError carrying its message and cause', async () => {
    const source = new FakeSource([target]);
    const failure = new Error('connect ECONNREFUSED 10.96.0.1:443');
    source.failure = failure;
    await assert.rejects(
      judged(source, restore()),
      (err: unknown) =>
        err instanceof NeighbourLookupError &&
        err.reason === 'NeighbourLookupFailed' &&
        err.message === 'connect ECONNREFUSED 10.96.0.1:443' &&
        err.cause === failure,
    );
  });

  it("the judge's own errors pass through unwrapped", async () => {
    const bug = new TypeError('a policy broke');
    await assert.rejects(
      judgeWithApi(new FakeSource(), () => {
        throw bug;
      }),
      (err) => err === bug,
    );
  });

  it('stops after four judgements when the engine keeps asking for something new', async () => {
    const source = new FakeSource();
    let judgements = 0;
    const last = await judgeWithApi(source, (neighbours) => {
      judgements += 1;
      neighbours.cluster('shop', `c${judgements}`);
      return judgements;
    });
    assert.equal(last, 4);
    assert.deepEqual(source.calls, ['Cluster shop/c1', 'Cluster shop/c2', 'Cluster shop/c3']);
  });

  it('mutate via admit judges no validating policy: a Restore gets its label and asks for nothing', async () => {
    const source = new FakeSource([target, unrecorded, origin]);
    const { out, judgements, calls } = await judged(source, restore(), 'mutate');
    const ops = JSON.parse(Buffer.from(out.patch ?? '', 'base64').toString()) as Operation[];
    assert.deepEqual(ops, [{ op: 'add', path: '/metadata/labels', value: { 'lifeboat.dev/cluster': 'target' } }]);
    assert.equal(judgements, 1);
    assert.deepEqual(calls, []);
  });

  it('mutate via admit: a Backup without objectStore gets its Cluster’s', async () => {
    const source = new FakeSource([SHOP]);
    const object = backup();
    const { out, calls } = await judged(source, object, 'mutate');
    assert.deepEqual(calls, ['1: Cluster shop/shop']);
    assert.equal(out.patchType, 'JSONPatch');
    const ops = JSON.parse(Buffer.from(out.patch ?? '', 'base64').toString()) as Operation[];
    const patched = jsonPatch.applyPatch(structuredClone(object), ops).newDocument as { spec: Doc };
    assert.deepEqual(patched.spec['objectStore'], STORE);
  });

  it('through a LookupCache, a review whose neighbours are all cached is judged once, without waiting', async () => {
    const source = new FakeSource([target, unrecorded, origin]);
    const { cache, observed } = cacheOver(source);
    const judge = (object: Doc) => {
      let judgements = 0;
      const out = judgeWithApi(cache, (n) => {
        judgements += 1;
        return admit(reviewOf(object), 'validate', n, DEFAULT_SETTINGS);
      });
      return out.then((o) => ({ out: o.response, judgements }));
    };
    const cold = await judge(restore());
    assert.equal(cold.judgements, 3);
    const warm = await judge(restore());
    assert.deepEqual(warm, { out: cold.out, judgements: 1 });
    assert.deepEqual(observed, ['miss', 'miss', 'miss', 'hit', 'hit', 'hit']);
    assert.equal(source.calls.length, 3);
  });

  it('through a LookupCache, an entry past its TTL is not used: the review waits for a fresh read', async () => {
    const source = new FakeSource([target, unrecorded, origin]);
    const { cache, at } = cacheOver(source);
    const first = await judgeWithApi(cache, (n) => admit(reviewOf(restore()), 'validate', n, DEFAULT_SETTINGS));
    assert.equal(first.response.status?.message, PHYSICAL_DENIAL);
    // The Backup now records that it is a dump; the cached copy says nothing of its method.
    source.put(nightly);
    at(1_000);
    const out = await judgeWithApi(cache, (n) => admit(reviewOf(restore()), 'validate', n, DEFAULT_SETTINGS));
    assert.deepEqual(out.response, { uid: 'u-1', allowed: true, warnings: [] });
    assert.equal(source.calls.length, 6);
  });

  it('a stored neighbour that no longer passes the schema is present but untyped, on every hit', async () => {
    const broken = { ...nightly, spec: { cluster: { name: 7 } } };
    const source = new FakeSource([target, broken]);
    const { cache } = cacheOver(source);
    for (let i = 0; i < 2; i++) {
      const out = await judgeWithApi(cache, (n) => admit(reviewOf(restore()), 'validate', n, DEFAULT_SETTINGS));
      assert.equal(out.response.allowed, false, `review ${i + 1}`);
      assert.match(out.response.status?.message ?? '', /^LB602 spec\.backup\.name: Backup nightly /);
    }
    assert.equal(source.calls.length, 2);
  });

  it('through a LookupCache, a burst of Backups of one Cluster costs one read', async () => {
    const source = new FakeSource([SHOP]);
    const { cache } = cacheOver(source);
    source.hold();
    const burst = Array.from({ length: 20 }, (_, i) =>
      judgeWithApi(cache, (n) => admit(reviewOf(backup({}, { name: `b-${i}` })), 'mutate', n, DEFAULT_SETTINGS)),
    );
    source.release();
    const answers = await Promise.all(burst);
    assert.deepEqual(source.calls, ['Cluster shop/shop']);
    assert.ok(
      answers.every((a) => a.response.patchType === 'JSONPatch'),
      'every Backup was patched',
    );
  });
});

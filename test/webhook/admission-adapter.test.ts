// The AdmissionReview adapter with a fake of the API lookups: the answers the API server gets.
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import * as fc from 'fast-check';
import jsonPatch, { type Operation } from 'fast-json-patch';
import { admit, withoutBookkeeping } from '../../webhook/admission-adapter.js';
import { parseAdmissionReview, type AdmissionReview } from '../../webhook/admission-review.js';
import { DEFAULT_SETTINGS } from '../../policies/policy-types.js';
import { backup, cluster, fakeNeighbours } from '../helpers.js';

function reviewOf(object: unknown, extra: Record<string, unknown> = {}): AdmissionReview {
  const body = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: 'lifeboat.dev', version: 'v1alpha1', kind: 'Backup' },
      namespace: 'shop',
      operation: 'CREATE',
      object,
      ...extra,
    },
  };
  const parsed = parseAdmissionReview(body);
  assert.ok('review' in parsed, JSON.stringify(parsed));
  return parsed.review;
}

const api = (objects: unknown[] = []) => fakeNeighbours({ authoritative: true, objects });
const inShop = (doc: Record<string, unknown>) => ({
  ...doc,
  metadata: { ...(doc['metadata'] as object), namespace: 'shop' },
});

describe('admission adapter (fake API lookups)', () => {
  it('refuses what is not an AdmissionReview, saying what is wrong', () => {
    assert.deepEqual(parseAdmissionReview('nope'), {
      problem: 'not an admission.k8s.io/v1 AdmissionReview: the body must be object',
    });
    const noUid = parseAdmissionReview({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { kind: { group: '', version: 'v1', kind: 'X' }, operation: 'CREATE' },
    });
    assert.match('problem' in noUid ? noUid.problem : '', /request must have required property 'uid'/);
    const v1beta1 = parseAdmissionReview({
      apiVersion: 'admission.k8s.io/v1beta1',
      kind: 'AdmissionReview',
      request: {},
    });
    assert.match('problem' in v1beta1 ? v1beta1.problem : '', /apiVersion must be "admission.k8s.io\/v1"/);
  });

  it('mutate: a JSONPatch that, applied, gives the Cluster objectStore, defaults and label; the uid is echoed', () => {
    const object = backup();
    const out = admit(reviewOf(object), 'mutate', api([inShop(cluster())]), DEFAULT_SETTINGS);
    assert.equal(out.response.uid, 'u-1');
    assert.equal(out.response.allowed, true);
    assert.equal(out.response.patchType, 'JSONPatch');
    const ops = JSON.parse(Buffer.from(out.response.patch ?? '', 'base64').toString()) as Operation[];
    const patched = jsonPatch.applyPatch(structuredClone(object), ops).newDocument as {
      spec: Record<string, unknown>;
      metadata: { labels: Record<string, string> };
    };
    assert.deepEqual(patched.spec['objectStore'], { bucket: 'backups', inheritFromIAMRole: true });
    assert.equal(patched.spec['method'], 'mariabackup');
    assert.equal(patched.metadata.labels['lifeboat.dev/cluster'], 'shop');
  });

  it('mutate: the same manifest again, already mutated, gives no patch', () => {
    const first = admit(reviewOf(backup()), 'mutate', api([inShop(cluster())]), DEFAULT_SETTINGS);
    const ops = JSON.parse(Buffer.from(first.response.patch ?? '', 'base64').toString()) as Operation[];
    const mutated = jsonPatch.applyPatch(backup(), ops).newDocument;
    const again = admit(reviewOf(mutated), 'mutate', api([inShop(cluster())]), DEFAULT_SETTINGS);
    assert.deepEqual(again.response, { uid: 'u-1', allowed: true });
  });

  it('validate: denies with the policy IDs and fields, and dry runs answer alike', () => {
    const restore = {
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'Restore',
      metadata: { name: 'r' },
      spec: { cluster: { name: 'shop' }, backup: { name: 'gone' } },
    };
    for (const dryRun of [false, true]) {
      const out = admit(reviewOf(restore, { dryRun }), 'validate', api([inShop(cluster())]), DEFAULT_SETTINGS);
      assert.equal(out.response.allowed, false);
      assert.equal(out.response.status?.code, 403);
      assert.equal(
        out.response.status?.message,
        'LB602 spec.backup.name: Backup gone does not exist in namespace shop; name a completed Backup (a restore that ran before its Backup was deleted need not run again: drop it from Git, or restore with source and backupID)',
      );
    }
  });

  it('validate: warnings for warn findings, allowed', () => {
    const out = admit(reviewOf(backup()), 'validate', api(), DEFAULT_SETTINGS);
    assert.equal(out.response.allowed, true);
    assert.deepEqual(out.response.warnings, [
      'LB603 spec.cluster.name: Cluster shop does not exist in namespace shop; cluster-dependent checks were skipped, and the work fails with ClusterNotFound unless it exists when it runs',
    ]);
  });

  it('validate: UPDATE is judged against the stored object (immutability)', () => {
    const stored = { ...inShop(backup({ method: 'mariabackup' })), status: { phase: 'completed' } };
    const update = { ...inShop(backup({ method: 'mariadb-dump' })), status: { phase: 'completed' } };
    const out = admit(
      reviewOf(update, { operation: 'UPDATE', oldObject: stored }),
      'validate',
      api([inShop(cluster())]),
      DEFAULT_SETTINGS,
    );
    assert.equal(out.response.allowed, false);
    assert.match(
      out.response.status?.message ?? '',
      /^LB401 spec.method: spec.method cannot change: this Backup is completed/,
    );
  });

  it('allows an UPDATE that changes only the finalizers (the runner releasing a deleted Backup), whatever it references', () => {
    const stored = {
      ...inShop(backup()),
      metadata: { name: 'b1', namespace: 'shop', finalizers: ['lifeboat.dev/worker'] },
    };
    const released = { ...stored, metadata: { ...stored.metadata, finalizers: [] } };
    // No Cluster at all (authoritative): a spec change would be judged; the finalizer is not.
    const out = admit(
      reviewOf(released, { operation: 'UPDATE', oldObject: stored }),
      'validate',
      api(),
      DEFAULT_SETTINGS,
    );
    assert.deepEqual(out.response, { uid: 'u-1', allowed: true });
    const changed = { ...released, spec: { ...(backup()['spec'] as object), method: 'mariadb-dump' } };
    const judged = admit(
      reviewOf(changed, { operation: 'UPDATE', oldObject: stored }),
      'validate',
      api(),
      DEFAULT_SETTINGS,
    );
    assert.notDeepEqual(judged.response, { uid: 'u-1', allowed: true });
  });

  it('allows DELETE, and denies a kind Lifeboat does not serve instead of passing it', () => {
    assert.deepEqual(
      admit(reviewOf(undefined, { operation: 'DELETE' }), 'validate', api(), DEFAULT_SETTINGS).response,
      { uid: 'u-1', allowed: true },
    );
    const foreign = admit(
      reviewOf({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }),
      'validate',
      api(),
      DEFAULT_SETTINGS,
    );
    assert.equal(foreign.response.allowed, false);
    assert.equal(
      foreign.response.status?.message,
      "LB005 (document): Lifeboat does not serve this object (sent as lifeboat.dev/v1alpha1 Backup; it has apiVersion v1, kind ConfigMap); fix the webhook configuration's rules",
    );
    // Mutation never denies, whatever arrives: the validating call has the last word.
    const mutated = admit(reviewOf({}), 'mutate', api(), DEFAULT_SETTINGS);
    assert.deepEqual(mutated.response, { uid: 'u-1', allowed: true });
  });

  it('a schema error denies in validate and patches nothing in mutate', () => {
    const bad = backup({ compression: 'brotli' });
    assert.match(
      admit(reviewOf(bad), 'validate', api(), DEFAULT_SETTINGS).response.status?.message ?? '',
      /^LB004 spec.compression: "brotli" is not allowed/,
    );
    assert.deepEqual(admit(reviewOf(bad), 'mutate', api(), DEFAULT_SETTINGS).response, { uid: 'u-1', allowed: true });
  });

  describe('withoutBookkeeping', () => {
    /** The definition: a deep copy without status and metadata's finalizers, resourceVersion, managedFields. */
    function deepCopyWithout(doc: unknown): unknown {
      if (typeof doc !== 'object' || doc === null) return doc;
      const copy = structuredClone(doc) as { status?: unknown; metadata?: Record<string, unknown> };
      delete copy.status;
      for (const key of ['finalizers', 'resourceVersion', 'managedFields']) delete copy.metadata?.[key];
      return copy;
    }

    // As JSON.parse gives them: plain prototypes, no undefined members.
    const json = (depth: number): fc.Arbitrary<unknown> =>
      fc.jsonValue({ maxDepth: depth }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
    const bookkeeping = fc.record(
      {
        status: json(2),
        finalizers: fc.array(fc.constantFrom('lifeboat.dev/worker', 'x'), { maxLength: 2 }),
        resourceVersion: fc.constantFrom('1', '2'),
        managedFields: json(2),
      },
      { requiredKeys: [], noNullPrototype: true },
    );
    // Pairs that mostly differ in bookkeeping only, sometimes elsewhere too, sometimes not objects at all.
    const pair = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(json(3), bookkeeping, bookkeeping, fc.boolean(), json(1)) },
      { weight: 1, arbitrary: fc.tuple(json(2), bookkeeping, bookkeeping, fc.constant(false), json(1)) },
    );
    function dressed(base: unknown, extra: Record<string, unknown>, metadata: unknown): unknown {
      if (typeof base !== 'object' || base === null || Array.isArray(base)) return base;
      const { status, ...meta } = extra;
      const withStatus = status === undefined ? {} : { status };
      const own = typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata) ? metadata : {};
      return { ...base, ...withStatus, metadata: { ...own, ...meta } };
    }

    it('judges two documents alike exactly when the deep-copying definition does (generated pairs)', () => {
      fc.assert(
        fc.property(pair, ([base, a, b, changeSpec, spec]) => {
          const metadata = (base as { metadata?: unknown } | null)?.metadata;
          const left = dressed(base, a, metadata);
          const right = dressed(changeSpec ? { ...(base as object), spec } : base, b, metadata);
          const expected = isDeepStrictEqual(deepCopyWithout(left), deepCopyWithout(right));
          assert.equal(isDeepStrictEqual(withoutBookkeeping(left), withoutBookkeeping(right)), expected);
          assert.deepStrictEqual(withoutBookkeeping(left), deepCopyWithout(left));
        }),
        { numRuns: 2000 },
      );
    });

    it('leaves its input as it was', () => {
      const doc = {
        metadata: { name: 'b1', finalizers: ['lifeboat.dev/worker'], resourceVersion: '7', managedFields: [{}] },
        spec: { cluster: { name: 'shop' } },
        status: { phase: 'completed' },
      };
      const before = structuredClone(doc);
      assert.deepStrictEqual(withoutBookkeeping(doc), {
        metadata: { name: 'b1' },
        spec: { cluster: { name: 'shop' } },
      });
      assert.deepStrictEqual(doc, before);
    });
  });
});

// The mutating answer's JSONPatch against fast-json-patch's compare(), which it replaced: the same
// ops in the same order, on generated pairs of JSON documents and on what the engine mutates.
import assert from 'node:assert/strict';
import * as fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import { mutate } from '../../policies/engine.js';
import { decode } from '../../policies/schema-check.js';
import { patchOperations } from '../../webhook/admission-patch.js';
import { fakeNeighbours } from '../helpers.js';
import { anyDocument, settings, world } from './fuzz-arbitraries.js';

/** What an answer carries: the serialized ops. */
const sent = (ops: readonly unknown[]): string => JSON.stringify(ops);

// As JSON.parse gives them: plain prototypes, no undefined members.
const json = (depth: number): fc.Arbitrary<unknown> =>
  fc.jsonValue({ maxDepth: depth }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const container = json(4).filter((v): v is object => typeof v === 'object' && v !== null);

/** `doc` with a few members changed, added or removed at any depth; untouched parts shared, as mutation leaves them. */
function edited(doc: unknown, edits: readonly (readonly [number, unknown])[]): unknown {
  if (typeof doc !== 'object' || doc === null) return doc;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(doc) ? [...(doc as unknown[])] : { ...doc };
  const keys = Object.keys(copy);
  for (const [pick, value] of edits) {
    const key = keys[pick % Math.max(1, keys.length)];
    const target = copy as Record<string, unknown>;
    if (key === undefined || pick % 5 === 0) target[`k${pick}`] = value;
    else if (pick % 5 === 1 && !Array.isArray(copy)) delete target[key];
    else if (pick % 5 === 2) target[key] = edited(target[key], edits.slice(1));
    else target[key] = value;
  }
  return copy;
}

describe('admission patch (against fast-json-patch compare)', () => {
  it('gives the ops compare() gives, in order, for generated pairs of documents', () => {
    const edits = fc.array(fc.tuple(fc.nat(40), json(2)), { maxLength: 4 });
    fc.assert(
      fc.property(container, edits, container, fc.boolean(), (before, es, other, related) => {
        const after = related ? edited(before, es) : other;
        if (typeof after !== 'object' || after === null) return;
        assert.equal(sent(patchOperations(before, after)), sent(jsonPatch.compare(before, after)));
      }),
      { numRuns: 3000 },
    );
  });

  it('gives the ops compare() gives for what mutation makes of generated Lifeboat objects', function () {
    this.timeout(60_000);
    let patched = 0;
    fc.assert(
      fc.property(anyDocument, world, settings, fc.boolean(), (doc, w, s, create) => {
        const decoded = decode(doc);
        if (decoded.type !== 'lifeboat') return;
        const base = { operation: create ? 'CREATE' : 'UPDATE', neighbours: fakeNeighbours(w), settings: s } as const;
        const { object } = mutate(decoded.object, base);
        const ops = patchOperations(decoded.object, object);
        if (ops.length > 0) patched++;
        assert.equal(sent(ops), sent(jsonPatch.compare(decoded.object, object)));
      }),
      { numRuns: 1000 },
    );
    // About a third of generated objects are mutated: the comparison is not of empty patches.
    assert.ok(patched > 150, `only ${patched} of 1000 objects were patched`);
  });

  it('escapes "/" and "~" in keys, and writes array holes as null', () => {
    const before = { 'a/b': 1, 'c~d': [1, 2] };
    const after = { 'a/b': 2, 'c~d': [1, undefined], e: { f: 'g' } };
    const ops = patchOperations(before, after);
    assert.deepEqual(ops, [
      { op: 'replace', path: '/c~0d/1', value: null },
      { op: 'replace', path: '/a~1b', value: 2 },
      { op: 'add', path: '/e', value: { f: 'g' } },
    ]);
    assert.equal(sent(ops), sent(jsonPatch.compare(before, after)));
  });
});

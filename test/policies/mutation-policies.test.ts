// The copy mutation makes of what it inherits (LB301's objectStore): equal to structuredClone's,
// sharing nothing with the original.
import assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { copyData } from '../../policies/mutation-policies.js';

/** True when some object or array inside `a` is also inside `b`. */
function shares(a: unknown, b: unknown): boolean {
  const inside = new Set<unknown>();
  const walk = (v: unknown, visit: (x: object) => void): void => {
    if (typeof v !== 'object' || v === null) return;
    visit(v);
    for (const member of Object.values(v)) walk(member, visit);
  };
  walk(a, (x) => inside.add(x));
  let found = false;
  walk(b, (x) => (found ||= inside.has(x)));
  return found;
}

describe('mutation policies: copyData', () => {
  it('copies generated JSON data as structuredClone does, sharing nothing', () => {
    const data = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
    fc.assert(
      fc.property(data, (value) => {
        const copy = copyData(value);
        assert.deepStrictEqual(copy, structuredClone(value));
        assert.ok(!shares(value, copy), 'the copy shares an object with the original');
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps a "__proto__" key a member, and array holes holes', () => {
    const value = JSON.parse('{"__proto__": {"x": 1}, "list": [1, 2]}') as Record<string, unknown>;
    const copy = copyData(value);
    assert.equal(Object.getPrototypeOf(copy), Object.prototype);
    assert.deepStrictEqual(Object.keys(copy), ['__proto__', 'list']);
    assert.deepStrictEqual(copy, structuredClone(value));
    // eslint-disable-next-line no-sparse-arrays
    assert.deepStrictEqual(copyData([1, , 3]), structuredClone([1, , 3]));
  });
});

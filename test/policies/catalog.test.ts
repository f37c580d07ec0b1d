import assert from 'node:assert/strict';
import { CATALOG, findPolicy } from '../../policies/catalog.js';
import { explainText } from '../../policies/catalog-doc.js';

describe('policy catalog', () => {
  it('IDs and names are unique and well-formed', () => {
    const ids = CATALOG.map((p) => p.id);
    const names = CATALOG.map((p) => p.name);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(new Set(names).size, names.length);
    for (const p of CATALOG) {
      assert.match(p.id, /^LB\d{3}$/);
      assert.match(p.name, /^[a-z0-9]+(-[a-z0-9]+)*$/);
      assert.ok(p.rule.endsWith('.') && p.rationale.endsWith('.'), `${p.id} rule and rationale are sentences`);
      assert.ok(p.kinds.length > 0);
    }
  });

  it('the starting catalog of the design is present', () => {
    const expected = [
      'LB101',
      'LB102',
      'LB103',
      'LB104',
      'LB105',
      'LB106',
      'LB201',
      'LB202',
      'LB203',
      'LB204',
      'LB205',
      'LB206',
      'LB301',
      'LB302',
      'LB303',
      'LB304',
      'LB305',
      'LB401',
      'LB402',
      'LB501',
      'LB502',
      'LB503',
      'LB504',
      'LB505',
      'LB506',
      'LB601',
      'LB602',
    ];
    for (const id of expected) assert.ok(findPolicy(id), id);
  });

  it('finds policies by ID in any case, or by name', () => {
    assert.equal(findPolicy('lb101')?.id, 'LB101');
    assert.equal(findPolicy('recovery-one-origin')?.id, 'LB101');
    assert.equal(findPolicy('LB999'), undefined);
  });

  it('explain prints rule, rationale and examples', () => {
    const text = explainText(findPolicy('LB101')!, { fail: 'kind: Restore\n', pass: 'kind: Cluster\n' });
    assert.match(text, /^LB101 recovery-one-origin \(deny, recovery\)/);
    assert.match(text, /Rule: A recovery names exactly one origin/);
    assert.match(text, /Denied:\n\n {4}kind: Restore/);
    assert.match(text, /Passes:\n\n {4}kind: Cluster/);
  });
});

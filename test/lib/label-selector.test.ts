// Label selectors from their structure: the query the API gets, and every way a part is refused.
import assert from 'node:assert/strict';
import { InvalidLabelSelectorError, labelSelectorQuery } from '../../lib/label-selector.js';

describe('label selector', () => {
  it('keys sorted, expressions in order, prefixed keys and empty values allowed', () => {
    assert.equal(
      labelSelectorQuery({
        matchLabels: { 'app.kubernetes.io/name': 'mariadb', blank: '' },
        matchExpressions: [
          { key: 'role', operator: 'NotIn', values: ['backup', 'arbiter'] },
          { key: 'ready', operator: 'Exists' },
        ],
      }),
      'app.kubernetes.io/name=mariadb,blank=,role notin (backup,arbiter),ready',
    );
  });

  const bad: [string, Parameters<typeof labelSelectorQuery>[0]][] = [
    ['a value with a comma', { matchLabels: { app: 'a,b' } }],
    ['a value with =', { matchLabels: { app: 'a=b' } }],
    ['a value of 64 characters', { matchLabels: { app: 'a'.repeat(64) } }],
    ['a value starting with -', { matchLabels: { app: '-a' } }],
    ['a key with a space', { matchLabels: { 'a b': 'x' } }],
    ['an upper-case prefix', { matchLabels: { 'Example.com/a': 'x' } }],
    ['an empty key', { matchExpressions: [{ key: '', operator: 'Exists' }] }],
    ['a set value with a parenthesis', { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['x)'] }] }],
    ['DoesNotExist with values', { matchExpressions: [{ key: 'a', operator: 'DoesNotExist', values: ['x'] }] }],
    ['nothing at all', { matchLabels: {}, matchExpressions: [] }],
  ];
  for (const [title, selector] of bad) {
    it(`refuses ${title}`, () => assert.throws(() => labelSelectorQuery(selector), InvalidLabelSelectorError));
  }
});

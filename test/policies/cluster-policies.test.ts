import assert from 'node:assert/strict';
import { cluster, policiesOf, reviewWith } from '../helpers.js';

describe('cluster policies (fake neighbours)', () => {
  it('LB701 wants exactly one way to find instances', () => {
    assert.deepEqual(
      policiesOf(reviewWith(cluster({ instances: { selector: { matchLabels: { app: 'db' } }, port: 3306 } }))),
      [],
    );
    assert.deepEqual(policiesOf(reviewWith(cluster({ instances: {} }))), ['LB701']);
    assert.deepEqual(
      policiesOf(reviewWith(cluster({ instances: { static: [] } }))),
      ['LB004'],
      'the schema wants one instance',
    );
    const both = cluster({
      instances: { selector: { matchLabels: { app: 'db' } }, static: [{ name: 'a', host: 'h' }] },
    });
    assert.deepEqual(policiesOf(reviewWith(both)), ['LB701']);
  });

  it('LB702 finds duplicate instance and external names', () => {
    const doc = cluster({
      instances: {
        static: [
          { name: 'a', host: 'h1' },
          { name: 'a', host: 'h2' },
        ],
      },
      externalClusters: [{ name: 'x' }, { name: 'x' }],
    });
    const result = reviewWith(doc);
    assert.deepEqual(
      result.findings.map((f) => f.path.join('.')),
      ['spec.instances.static.1.name', 'spec.externalClusters.1.name'],
    );
  });

  it('LB703 warns about a Galera cluster below quorum size', () => {
    const galera = (n: number) =>
      cluster({
        topology: 'galera',
        instances: { static: Array.from({ length: n }, (_, i) => ({ name: `g${i}`, host: `h${i}` })) },
      });
    assert.deepEqual(
      reviewWith(galera(2)).findings.map((f) => `${f.policy}:${f.severity}`),
      ['LB703:warn'],
    );
    assert.deepEqual(policiesOf(reviewWith(galera(3))), []);
  });
});

import assert from 'node:assert/strict';
import { cluster, policiesOf, reviewWith } from '../helpers.js';

const store = { bucket: 'old', inheritFromIAMRole: true };

function restore(spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Restore',
    metadata: { name: 'r' },
    spec: { cluster: { name: 'shop' }, ...spec },
  };
}

describe('recovery policies (fake neighbours)', () => {
  it('LB101 applies to Cluster.spec.bootstrap.recovery too', () => {
    const both = cluster({
      bootstrap: { recovery: { backup: { name: 'b' }, source: 'old' } },
      externalClusters: [{ name: 'old', objectStore: store }],
    });
    assert.ok(policiesOf(reviewWith(both)).includes('LB101'));
    const none = cluster({ bootstrap: { recovery: {} } });
    assert.deepEqual(policiesOf(reviewWith(none)), ['LB101']);
  });

  it('LB102/LB103 resolve a Restore source through the target Cluster', () => {
    const target = cluster({ externalClusters: [{ name: 'old', objectStore: store }, { name: 'bare' }] });
    assert.deepEqual(policiesOf(reviewWith(restore({ source: 'old' }), { objects: [target] })), []);
    assert.deepEqual(policiesOf(reviewWith(restore({ source: 'nope' }), { objects: [target] })), ['LB102']);
    const bare = reviewWith(restore({ source: 'bare' }), { objects: [target] });
    assert.deepEqual(policiesOf(bare), ['LB103']);
    assert.match(bare.findings[0]?.message ?? '', /entry "bare" of Cluster shop has no objectStore/);
  });

  it('LB102 cannot judge a Restore whose Cluster is unknown; LB603 says so instead', () => {
    assert.deepEqual(policiesOf(reviewWith(restore({ source: 'old' }))), ['LB603']);
  });

  it('LB105 counts targetImmediate only when true', () => {
    const target = cluster({ externalClusters: [{ name: 'old', objectStore: store }] });
    const ok = restore({ source: 'old', recoveryTarget: { targetImmediate: false, targetGTID: '0-1-5' } });
    // One target: LB105 is satisfied (LB106 refuses the GTID target itself).
    assert.deepEqual(policiesOf(reviewWith(ok, { objects: [target] })), ['LB106']);
    const two = restore({ source: 'old', recoveryTarget: { targetTime: '2026-01-01T00:00:00Z', targetGTID: '0-1-5' } });
    assert.ok(policiesOf(reviewWith(two, { objects: [target] })).includes('LB105'));
  });

  it('LB106 refuses a point-in-time target, whatever the source archives, and says what to do', () => {
    const archiving = cluster({ backup: { objectStore: store, binlogArchive: { enabled: true } } }, 'old');
    const target = cluster({ externalClusters: [{ name: 'old', objectStore: store }] });
    for (const recoveryTarget of [{ targetGTID: '0-1-5' }, { targetTime: '2026-05-01T12:00:00Z' }]) {
      const pitr = reviewWith(restore({ source: 'old', recoveryTarget }), { objects: [target, archiving] });
      assert.deepEqual(policiesOf(pitr), ['LB106']);
      const field = Object.keys(recoveryTarget)[0] ?? '';
      assert.deepEqual(pitr.findings[0]?.path, ['spec', 'recoveryTarget', field]);
      assert.match(pitr.findings[0]?.message ?? '', /^point-in-time recovery is not available .*; remove this target$/);
    }
    const onBootstrap = cluster({
      bootstrap: { recovery: { source: 'old', recoveryTarget: { targetTime: '2026-05-01T12:00:00Z' } } },
      externalClusters: [{ name: 'old', objectStore: store }],
    });
    assert.deepEqual(
      reviewWith(onBootstrap).findings.map((f) => [f.policy, f.path.join('.')]),
      [['LB106', 'spec.bootstrap.recovery.recoveryTarget.targetTime']],
    );
    // An update that keeps the target it was stored with (a Cluster bootstrapped long ago, edited
    // since) is warned, not refused; one that sets or changes a target is refused.
    const storedBootstrap = reviewWith(
      { ...onBootstrap, metadata: { name: 'shop', labels: { team: 'a' } } },
      { old: onBootstrap },
    );
    assert.deepEqual(
      storedBootstrap.findings.map((f) => [f.policy, f.severity]),
      [['LB106', 'warn']],
    );
    assert.match(
      storedBootstrap.findings[0]?.message ?? '',
      /^a point-in-time target, stored before .*; remove this target$/,
    );
    const moved = cluster({
      bootstrap: { recovery: { source: 'old', recoveryTarget: { targetTime: '2026-05-02T12:00:00Z' } } },
      externalClusters: [{ name: 'old', objectStore: store }],
    });
    const deny = (r: ReturnType<typeof reviewWith>) => r.findings.map((f) => [f.policy, f.severity]);
    assert.deepEqual(deny(reviewWith(moved, { old: onBootstrap })), [['LB106', 'deny']]);
    const plain = cluster({ externalClusters: [{ name: 'old', objectStore: store }] });
    assert.deepEqual(deny(reviewWith(onBootstrap, { old: plain })), [['LB106', 'deny']]);
    const immediate = restore({ source: 'old', recoveryTarget: { targetImmediate: true } });
    assert.deepEqual(policiesOf(reviewWith(immediate, { objects: [target] })), []);
  });
});

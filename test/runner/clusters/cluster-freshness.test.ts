// The freshness of a Cluster as a pure function of the Cluster, its Backups and the time: which
// Backups count, when it is stale (strictly older than the rpo), and what Ready says.
import assert from 'node:assert/strict';
import { clusterFreshness, rpoMs } from '../../../runner/clusters/cluster-freshness.js';
import { backup, cluster, CREATED, HOUR } from './cluster-fixtures.js';

const at = (iso: string): Date => new Date(iso);

describe('cluster freshness', () => {
  it('no Backups, no rpo: no fields, no BackupStale, Ready False NoCompletedBackup', () => {
    const f = clusterFreshness(cluster(), [], at('2026-01-02T00:00:00Z'));
    assert.deepEqual(f.fields, {});
    assert.equal(f.stale, undefined);
    assert.equal(f.staleAfterMs, undefined);
    assert.equal(f.newestCompletedMs, undefined);
    assert.equal(f.newestFailedMs, undefined);
    assert.deepEqual([f.ready.status, f.ready.reason], ['False', 'NoCompletedBackup']);
  });

  it('names the newest completed and the newest failed by stoppedAt, whatever the list order', () => {
    const backups = [
      backup('b2', 'completed', '2026-01-01T02:00:00Z'),
      backup('b3', 'failed', '2026-01-01T03:00:00Z'),
      backup('b1', 'completed', '2026-01-01T01:00:00Z'),
      backup('b0', 'failed', '2026-01-01T00:30:00Z'),
      backup('b4', 'running'),
      backup('b5', 'pending'),
    ];
    const f = clusterFreshness(cluster(), backups, at('2026-01-01T04:00:00Z'));
    assert.deepEqual(f.fields, {
      lastSuccessfulBackup: 'b2',
      lastSuccessfulBackupTime: '2026-01-01T02:00:00Z',
      lastFailedBackup: 'b3',
      firstRecoverabilityPoint: '2026-01-01T01:00:00Z',
    });
    assert.equal(f.newestCompletedMs, Date.parse('2026-01-01T02:00:00Z'));
    assert.equal(f.newestFailedMs, Date.parse('2026-01-01T03:00:00Z'));
  });

  it('skips the Backups of other Clusters and of the same name in other namespaces', () => {
    const backups = [
      backup('mine', 'completed', '2026-01-01T01:00:00Z'),
      backup('other-cluster', 'completed', '2026-01-01T02:00:00Z', { cluster: 'blog' }),
      backup('other-ns', 'completed', '2026-01-01T03:00:00Z', { namespace: 'staging' }),
      backup('other-failed', 'failed', '2026-01-01T03:00:00Z', { namespace: 'staging' }),
    ];
    const f = clusterFreshness(cluster(), backups, at('2026-01-01T04:00:00Z'));
    assert.equal(f.fields.lastSuccessfulBackup, 'mine');
    assert.equal(f.fields.lastFailedBackup, undefined);
  });

  it('only failed Backups: lastFailedBackup, no success fields, Ready False NoCompletedBackup naming the failure', () => {
    const f = clusterFreshness(
      cluster(),
      [backup('bad', 'failed', '2026-01-01T01:00:00Z')],
      at('2026-01-01T02:00:00Z'),
    );
    assert.deepEqual(f.fields, { lastFailedBackup: 'bad' });
    assert.deepEqual([f.ready.status, f.ready.reason], ['False', 'NoCompletedBackup']);
    assert.match(f.ready.message, /bad, failed/);
  });

  it('Expired Backups no longer count: the oldest unexpired completed one is the first recoverability point', () => {
    const backups = [
      backup('old', 'completed', '2026-01-01T01:00:00Z', { expired: true }),
      backup('mid', 'completed', '2026-01-01T02:00:00Z'),
      backup('new', 'completed', '2026-01-01T03:00:00Z'),
    ];
    const f = clusterFreshness(cluster(), backups, at('2026-01-01T04:00:00Z'));
    assert.equal(f.fields.firstRecoverabilityPoint, '2026-01-01T02:00:00Z');
    assert.equal(f.fields.lastSuccessfulBackup, 'new');
  });

  it('an Expired condition that is not True changes nothing', () => {
    const b = backup('old', 'completed', '2026-01-01T01:00:00Z', { expired: true });
    const condition = b.status?.conditions?.[0];
    if (condition) condition.status = 'False';
    const f = clusterFreshness(cluster(), [b], at('2026-01-01T04:00:00Z'));
    assert.equal(f.fields.firstRecoverabilityPoint, '2026-01-01T01:00:00Z');
  });

  it('every completed Backup expired: as if none, and stale by the Cluster age under an rpo', () => {
    const backups = [backup('old', 'completed', '2026-01-01T01:00:00Z', { expired: true })];
    const f = clusterFreshness(cluster('1h'), backups, at('2026-01-01T04:00:00Z'));
    assert.deepEqual(f.fields, {});
    assert.deepEqual([f.stale?.status, f.stale?.reason], ['True', 'NoBackupWithinRpo']);
  });

  it('a completed Backup without stoppedAt cannot be placed in time and is skipped', () => {
    const f = clusterFreshness(cluster(), [backup('odd', 'completed')], at('2026-01-01T04:00:00Z'));
    assert.deepEqual(f.fields, {});
  });

  it('rpo absent: no BackupStale, no stale time, Ready True with a completed Backup', () => {
    const f = clusterFreshness(cluster(), [backup('b1', 'completed', '2025-01-01T00:00:00Z')], at(CREATED));
    assert.equal(f.stale, undefined);
    assert.equal(f.staleAfterMs, undefined);
    assert.deepEqual([f.ready.status, f.ready.reason], ['True', 'ClusterProtected']);
  });

  it('rpo: within it BackupStale False BackupWithinRpo and Ready True; stale after stoppedAt + rpo', () => {
    const f = clusterFreshness(
      cluster('2h'),
      [backup('b1', 'completed', '2026-01-01T01:00:00Z')],
      at('2026-01-01T02:00:00Z'),
    );
    assert.deepEqual([f.stale?.status, f.stale?.reason], ['False', 'BackupWithinRpo']);
    assert.deepEqual([f.ready.status, f.ready.reason], ['True', 'ClusterProtected']);
    assert.equal(f.staleAfterMs, Date.parse('2026-01-01T03:00:00Z'));
    assert.match(f.stale?.message ?? '', /b1, finished at 2026-01-01T01:00:00Z: within the rpo of 2h/);
  });

  it('exactly at the boundary the backup is still fresh; a millisecond later it is stale', () => {
    const backups = [backup('b1', 'completed', '2026-01-01T01:00:00Z')];
    const boundary = Date.parse('2026-01-01T03:00:00Z');
    assert.equal(clusterFreshness(cluster('2h'), backups, new Date(boundary)).stale?.status, 'False');
    const later = clusterFreshness(cluster('2h'), backups, new Date(boundary + 1));
    assert.deepEqual([later.stale?.status, later.stale?.reason], ['True', 'BackupOlderThanRpo']);
    assert.deepEqual([later.ready.status, later.ready.reason], ['False', 'BackupTooOld']);
    assert.match(later.stale?.message ?? '', /older than the rpo of 2h/);
  });

  it('no completed Backup: fresh while the Cluster is younger than the rpo, stale after', () => {
    const young = clusterFreshness(cluster('1h'), [], at('2026-01-01T00:59:59Z'));
    assert.deepEqual([young.stale?.status, young.stale?.reason], ['False', 'AwaitingFirstBackup']);
    assert.equal(young.staleAfterMs, Date.parse(CREATED) + HOUR);
    assert.deepEqual([young.ready.status, young.ready.reason], ['False', 'NoCompletedBackup']);
    const old = clusterFreshness(cluster('1h'), [], at('2026-01-01T01:00:01Z'));
    assert.deepEqual([old.stale?.status, old.stale?.reason], ['True', 'NoBackupWithinRpo']);
    assert.match(old.stale?.message ?? '', /since 2026-01-01T01:00:00.000Z/);
    assert.equal(old.ready.reason, 'NoCompletedBackup');
  });

  it('the newest finished Backup failed: Ready False LastBackupFailed, though within the rpo', () => {
    const backups = [
      backup('good', 'completed', '2026-01-01T01:00:00Z'),
      backup('bad', 'failed', '2026-01-01T02:00:00Z'),
    ];
    const f = clusterFreshness(cluster('26h'), backups, at('2026-01-01T03:00:00Z'));
    assert.equal(f.stale?.status, 'False');
    assert.deepEqual([f.ready.status, f.ready.reason], ['False', 'LastBackupFailed']);
    assert.match(f.ready.message, /bad, failed.*good is the newest completed backup/);
  });

  it('an older failure does not matter once a newer Backup completed', () => {
    const backups = [
      backup('bad', 'failed', '2026-01-01T01:00:00Z'),
      backup('good', 'completed', '2026-01-01T02:00:00Z'),
    ];
    const f = clusterFreshness(cluster('26h'), backups, at('2026-01-01T03:00:00Z'));
    assert.equal(f.ready.reason, 'ClusterProtected');
    assert.equal(f.fields.lastFailedBackup, 'bad');
  });

  it('stale and the newest failed: Ready says stale first and names the failure', () => {
    const backups = [
      backup('good', 'completed', '2026-01-01T01:00:00Z'),
      backup('bad', 'failed', '2026-01-01T02:00:00Z'),
    ];
    const f = clusterFreshness(cluster('1h'), backups, at('2026-01-01T03:00:00Z'));
    assert.equal(f.ready.reason, 'BackupTooOld');
    assert.match(f.ready.message, /bad, failed/);
  });

  it('messages name no relative time, so the same situation later computes the same conditions', () => {
    const backups = [backup('b1', 'completed', '2026-01-01T01:00:00Z')];
    const a = clusterFreshness(cluster('26h'), backups, at('2026-01-01T02:00:00Z'));
    const b = clusterFreshness(cluster('26h'), backups, at('2026-01-01T20:00:00Z'));
    assert.deepEqual([a.stale, a.ready, a.fields], [b.stale, b.ready, b.fields]);
  });

  it('rpo in the API duration format: 1h30m, 26h, 1d', () => {
    assert.equal(rpoMs(cluster('1h30m')), 90 * 60_000);
    assert.equal(rpoMs(cluster('26h')), 26 * HOUR);
    assert.equal(rpoMs(cluster('1d')), 24 * HOUR);
    assert.equal(rpoMs(cluster()), undefined);
  });
});

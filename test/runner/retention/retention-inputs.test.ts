// What retention reads from stored objects: a Backup's origin (its ownerReference, not its labels),
// phase, end time and expiry; a bucket folder's completeness; and which Restores and bootstraps
// still need a backup.
import assert from 'node:assert/strict';
import {
  backupUses,
  candidateOfBackup,
  candidateOfListed,
  type BackupLike,
} from '../../../runner/retention/retention-inputs.js';
import { planRetention } from '../../../runner/retention/retention-plan.js';
import { backupIdTime } from '../../../crds/object-keys.js';
import type { BackupMetadataType } from '../../../crds/backup-metadata-types.js';

const METADATA: BackupMetadataType = {
  formatVersion: 1,
  cluster: 'db',
  namespace: 'shop',
  backupName: 'b1',
  backupId: '20261201T000000Z',
  engine: 'mariadb',
  serverVersion: '10.11.9-MariaDB-log',
  method: 'mariadb-dump',
  sourceInstance: 'db-0',
  objectKey: 'p/db/b1/20261201T000000Z/backup.sql',
  size: 42,
  sha256: 'b'.repeat(64),
  compression: 'none',
  startedAt: '2026-12-01T00:00:00Z',
  stoppedAt: '2026-12-01T00:05:00Z',
};

function backup(extra: Partial<BackupLike> & { status?: BackupLike['status'] } = {}): BackupLike {
  return { metadata: { name: 'b1', namespace: 'shop' }, spec: { cluster: { name: 'db' } }, ...extra };
}

describe('retention inputs', () => {
  it('a Backup is scheduled only by its ownerReference; a label alone does not make it so', () => {
    const owned = backup({
      metadata: { name: 'b1', ownerReferences: [{ kind: 'ScheduledBackup' }] },
    });
    assert.equal(candidateOfBackup(owned).origin, 'schedule');
    const labelled = backup({ metadata: { name: 'b1', ownerReferences: [{ kind: 'Something' }] } });
    assert.equal(candidateOfBackup(labelled).origin, 'git');
    assert.equal(candidateOfBackup(backup()).origin, 'git');
  });

  it('phase, end time (stoppedAt, else startedAt, else creation) and expiry', () => {
    assert.equal(candidateOfBackup(backup()).phase, 'pending');
    const done = candidateOfBackup(
      backup({
        status: {
          phase: 'completed',
          backupId: '20261201T000000Z',
          startedAt: '2026-12-01T00:00:00Z',
          stoppedAt: '2026-12-01T00:05:00Z',
          conditions: [{ type: 'Expired', status: 'True' }],
        },
      }),
    );
    assert.deepEqual(done, {
      name: 'b1',
      backupId: '20261201T000000Z',
      phase: 'completed',
      endedAt: new Date('2026-12-01T00:05:00Z'),
      origin: 'git',
      expired: true,
    });
    const created = backup({
      metadata: { name: 'b1', creationTimestamp: '2026-11-01T00:00:00Z' },
      status: { phase: 'failed' },
    });
    assert.deepEqual(candidateOfBackup(created).endedAt, new Date('2026-11-01T00:00:00Z'));
    const notExpired = backup({ status: { phase: 'completed', conditions: [{ type: 'Expired', status: 'False' }] } });
    assert.equal(candidateOfBackup(notExpired).expired, false);
  });

  it('the Object Lock a Backup recorded in status.location becomes its lockedUntil', () => {
    const location = {
      bucket: 'b',
      archiveKey: 'a',
      metadataKey: 'm',
      objectLock: { mode: 'GOVERNANCE' as const, retainUntil: '2026-12-04T00:00:00.000Z' },
    };
    const locked = candidateOfBackup(backup({ status: { phase: 'completed', location } }));
    assert.deepEqual(locked.lockedUntil, new Date('2026-12-04T00:00:00.000Z'));
    assert.equal('lockedUntil' in candidateOfBackup(backup({ status: { phase: 'completed' } })), false);
  });

  it('the kind comes from the method a Backup recorded, or from metadata.json in the bucket', () => {
    const kindOf = (method: string | undefined): string | undefined =>
      candidateOfBackup(backup({ status: { phase: 'completed', ...(method ? { method } : {}) } })).kind;
    assert.deepEqual(['mariabackup', 'xtrabackup', 'mariadb-dump', 'mysqldump', 'pg_dump', undefined].map(kindOf), [
      'physical',
      'physical',
      'logical',
      'logical',
      undefined,
      undefined,
    ]);
    const base = { metadataKey: 'k', backupName: 'b1', backupId: '20261201T000000Z', problems: [] };
    const metadata = (method: 'mariabackup' | 'mariadb-dump'): BackupMetadataType => ({ ...METADATA, method });
    assert.equal(candidateOfListed({ ...base, metadata: metadata('mariabackup') }).kind, 'physical');
    assert.equal(candidateOfListed({ ...base, metadata: metadata('mariadb-dump') }).kind, 'logical');
    assert.equal('kind' in candidateOfListed(base), false, 'no metadata.json: kind unknown');
  });

  it('a Backup whose status records no method, or one this build does not know, takes its kind from its archive key', () => {
    const kindOf = (method: string | undefined, archiveKey: string): string | undefined =>
      candidateOfBackup(
        backup({ status: { phase: 'completed', ...(method ? { method } : {}), location: { archiveKey } } }),
      ).kind;
    const folder = 'backups/db/nightly/20261202T020000Z';
    assert.equal(kindOf(undefined, `${folder}/backup.sql.zst`), 'logical');
    assert.equal(kindOf('mydumper', `${folder}/backup.sql`), 'logical');
    assert.equal(kindOf(undefined, `${folder}/backup.xbstream.gz`), 'physical');
    assert.equal(kindOf('mariadb-dump', `${folder}/backup.xbstream`), 'logical', 'a recorded method decides');
    assert.equal(kindOf(undefined, `${folder}/other.tar`), undefined);
  });

  it('a bucket folder is completed when it has no problems, else failed', () => {
    const base = { metadataKey: 'k', backupName: 'b1', backupId: '20261201T000000Z' };
    assert.equal(candidateOfListed({ ...base, problems: [] }).phase, 'completed');
    assert.equal(candidateOfListed({ ...base, problems: ['archive x is missing'] }).phase, 'failed');
    assert.equal(candidateOfListed({ ...base, problems: [] }).origin, 'bucket');
  });

  it('Restores and bootstraps that have not ended use their backup; a source without backupID uses none', () => {
    const uses = backupUses(
      [
        { metadata: { name: 'r1', namespace: 'shop' }, spec: { backup: { name: 'b1' } } },
        {
          metadata: { name: 'r2', namespace: 'shop' },
          spec: { source: 'old', backupID: '20261101T000000Z' },
          status: { phase: 'running' },
        },
        {
          metadata: { name: 'r3', namespace: 'shop' },
          spec: { backup: { name: 'b3' } },
          status: { phase: 'completed' },
        },
        { metadata: { name: 'r4', namespace: 'shop' }, spec: { source: 'old' } },
      ],
      [
        { metadata: { name: 'db2', namespace: 'shop' }, spec: { bootstrap: { recovery: { backup: { name: 'b5' } } } } },
        {
          metadata: { name: 'db3', namespace: 'shop' },
          spec: { bootstrap: { recovery: { backup: { name: 'b6' } } } },
          status: { bootstrap: { phase: 'failed' } },
        },
        { metadata: { name: 'db', namespace: 'shop' }, spec: {} },
      ],
    );
    assert.deepEqual(uses, [
      { backupName: 'b1', backupId: undefined, by: 'Restore shop/r1' },
      { backupName: undefined, backupId: '20261101T000000Z', by: 'Restore shop/r2' },
      { backupName: 'b5', backupId: undefined, by: 'the bootstrap of Cluster shop/db2' },
    ]);
  });

  it('a running restore from a source without backupID protects the backup it resolved, once a newer one completes', () => {
    // The restore took the newest complete backup (b1) and recorded it; b2 completed since, so b1
    // is no longer the newest and keep 1 would delete it under the restore reading it.
    const restores = [
      {
        metadata: { name: 'r1', namespace: 'shop' },
        spec: { source: 'db' },
        status: { phase: 'running', backupId: '20261201T000000Z', backupName: 'b1' },
      },
    ];
    const clusters = [
      {
        metadata: { name: 'db2', namespace: 'shop' },
        spec: { bootstrap: { recovery: { source: 'db' } } },
        status: { bootstrap: { phase: 'running', backupId: '20261130T000000Z', backupName: 'b0' } },
      },
    ];
    const done = (name: string, id: string): BackupLike =>
      backup({
        metadata: { name, namespace: 'shop' },
        status: { phase: 'completed', backupId: id, stoppedAt: backupIdTime(id).toISOString() },
      });
    const plan = planRetention({
      rule: { keep: 1 },
      candidates: [done('b0', '20261130T000000Z'), done('b1', '20261201T000000Z'), done('b2', '20261202T000000Z')].map(
        candidateOfBackup,
      ),
      uses: backupUses(restores, clusters),
      now: new Date('2026-12-03T00:00:00Z'),
    });
    assert.deepEqual(
      plan.decisions.map((d) => [d.candidate.name, d.action, d.reason]),
      [
        ['b2', 'keep', 'kept: newest completed backup'],
        ['b1', 'keep', 'kept: used by Restore shop/r1'],
        ['b0', 'keep', 'kept: used by the bootstrap of Cluster shop/db2'],
      ],
    );
  });

  it('a bootstrap from a source that has not chosen yet protects the newest backup complete when its Cluster was created', () => {
    // db2 was created just after b1 completed: its bootstrap will take b1 whatever completes later,
    // and until its worker records that, keep 1 must not delete b1 for b2.
    const clusters = [
      {
        metadata: { name: 'db2', namespace: 'shop', creationTimestamp: '2026-12-01T00:10:00Z' },
        spec: { bootstrap: { recovery: { source: 'db' } } },
      },
    ];
    const done = (name: string, id: string, stoppedAt: string): BackupLike =>
      backup({ metadata: { name, namespace: 'shop' }, status: { phase: 'completed', backupId: id, stoppedAt } });
    const plan = (bootstrapping: typeof clusters): Record<string, string> =>
      Object.fromEntries(
        planRetention({
          rule: { keep: 1 },
          candidates: [
            done('b0', '20261130T000000Z', '2026-11-30T00:05:00Z'),
            done('b1', '20261201T000000Z', '2026-12-01T00:10:00.700Z'),
            done('b2', '20261202T000000Z', '2026-12-02T00:05:00Z'),
          ].map(candidateOfBackup),
          uses: backupUses([], bootstrapping),
          now: new Date('2026-12-03T00:00:00Z'),
        }).decisions.map((d) => [d.candidate.name, d.reason]),
      );
    assert.deepEqual(plan(clusters), {
      b2: 'kept: newest completed backup',
      b1: 'kept: used by the bootstrap of Cluster shop/db2',
      b0: 'beyond keep 1 (3rd newest)',
    });
    const chosen = [{ ...clusters[0]!, status: { bootstrap: { phase: 'running', backupId: '20261130T000000Z' } } }];
    assert.equal(plan(chosen)['b1'], 'beyond keep 1 (2nd newest)', 'once it has chosen, its choice is what is kept');
    assert.equal(plan(chosen)['b0'], 'kept: used by the bootstrap of Cluster shop/db2');
  });
});

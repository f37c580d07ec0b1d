// The retention rules as tables: keep only, maxAge only, both (a backup goes only when both let it
// go), the newest completed backup always kept, backups a restore will read kept, failed backups
// ranked among themselves, scheduled Backups deleted and Git ones expired, expired ones left alone.
import assert from 'node:assert/strict';
import {
  describeRule,
  ordinal,
  planRetention,
  removals,
  retentionRule,
  RetentionRuleError,
  type BackupUse,
  type RetentionCandidate,
  type RetentionPlan,
  type RetentionRule,
} from '../../../runner/retention/retention-plan.js';

const NOW = new Date('2026-12-03T12:00:00Z');
const DAY = 86_400_000;

/** A completed scheduled backup that ended `days` ago; name b<days>. */
function done(days: number, extra: Partial<RetentionCandidate> = {}): RetentionCandidate {
  const endedAt = new Date(NOW.getTime() - days * DAY);
  const backupId = endedAt
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  return { name: `b${days}`, backupId, phase: 'completed', endedAt, origin: 'schedule', ...extra };
}

function plan(rule: RetentionRule, candidates: RetentionCandidate[], uses: BackupUse[] = []): RetentionPlan {
  return planRetention({ rule, candidates, uses, now: NOW });
}

function actions(p: RetentionPlan): Record<string, string> {
  return Object.fromEntries(p.decisions.map((d) => [d.candidate.name, d.action]));
}

function reasonOf(p: RetentionPlan, name: string): string {
  const d = p.decisions.find((x) => x.candidate.name === name);
  assert.ok(d, `no decision about ${name}`);
  return d.reason;
}

const rule = (spec: { keep?: number; maxAge?: string }): RetentionRule => {
  const r = retentionRule(spec);
  assert.ok(r);
  return r;
};

describe('retention plan', () => {
  it('keep only: the newest N completed stay, the others go, each with its rank', () => {
    const p = plan(rule({ keep: 2 }), [done(1), done(5), done(3), done(4)]);
    assert.deepEqual(actions(p), { b1: 'keep', b3: 'keep', b4: 'delete', b5: 'delete' });
    assert.equal(reasonOf(p, 'b1'), 'kept: newest completed backup');
    assert.equal(reasonOf(p, 'b3'), 'kept: within keep 2 (2nd newest)');
    assert.equal(reasonOf(p, 'b4'), 'beyond keep 2 (3rd newest)');
    assert.equal(reasonOf(p, 'b5'), 'beyond keep 2 (4th newest)');
    assert.deepEqual(
      p.decisions.map((d) => d.candidate.name),
      ['b1', 'b3', 'b4', 'b5'],
      'newest first',
    );
  });

  it('maxAge only: older than the age goes, with when it completed', () => {
    const p = plan(rule({ maxAge: '7d' }), [done(1), done(6), done(8), done(30)]);
    assert.deepEqual(actions(p), { b1: 'keep', b6: 'keep', b8: 'delete', b30: 'delete' });
    assert.equal(reasonOf(p, 'b8'), 'older than maxAge 7d (completed 2026-11-25T12:00:00.000Z)');
    assert.match(reasonOf(p, 'b6'), /^kept: younger than maxAge 7d \(completed 2026-11-27T12:00:00.000Z\)$/);
  });

  it('both: a backup goes only when both rules let it go', () => {
    // keep 2 keeps b1,b2; maxAge 5d keeps b1..b4; only b10 and b20 are beyond both.
    const p = plan(rule({ keep: 2, maxAge: '5d' }), [done(1), done(2), done(3), done(4), done(10), done(20)]);
    assert.deepEqual(actions(p), { b1: 'keep', b2: 'keep', b3: 'keep', b4: 'keep', b10: 'delete', b20: 'delete' });
    assert.equal(reasonOf(p, 'b3'), 'kept: younger than maxAge 5d (completed 2026-11-30T12:00:00.000Z)');
    assert.equal(
      reasonOf(p, 'b10'),
      'beyond keep 2 (5th newest) and older than maxAge 5d (completed 2026-11-23T12:00:00.000Z)',
    );
    // keep 3 keeps b20's elders when they are few: within keep wins over age.
    const few = plan(rule({ keep: 3, maxAge: '1d' }), [done(10), done(20), done(30)]);
    assert.deepEqual(actions(few), { b10: 'keep', b20: 'keep', b30: 'keep' });
  });

  it('the newest completed backup is kept even when maxAge says it is too old', () => {
    const p = plan(rule({ maxAge: '1d' }), [done(10), done(20)]);
    assert.deepEqual(actions(p), { b10: 'keep', b20: 'delete' });
    assert.equal(reasonOf(p, 'b10'), 'kept: newest completed backup');
  });

  it('the newest completed backup of each kind is kept: a Restore takes only logical ones, restore-datadir only physical', () => {
    // Hourly mariabackups and a daily dump: keep 2 would leave no dump for a Restore to take.
    const physical = (days: number): RetentionCandidate => done(days, { kind: 'physical' });
    const logical = (days: number): RetentionCandidate => done(days, { kind: 'logical' });
    const p = plan(rule({ keep: 2 }), [physical(1), physical(2), physical(3), logical(4), logical(5), physical(6)]);
    assert.deepEqual(actions(p), {
      b1: 'keep',
      b2: 'keep',
      b3: 'delete',
      b4: 'keep',
      b5: 'delete',
      b6: 'delete',
    });
    assert.equal(reasonOf(p, 'b1'), 'kept: newest completed backup');
    assert.equal(reasonOf(p, 'b4'), 'kept: newest completed logical backup (a Restore takes only logical ones)');
    const reversed = plan(rule({ maxAge: '1d' }), [logical(2), logical(3), physical(4), physical(5)]);
    assert.deepEqual(actions(reversed), { b2: 'keep', b3: 'delete', b4: 'keep', b5: 'delete' });
    assert.equal(
      reasonOf(reversed, 'b4'),
      'kept: newest completed physical backup (restore-datadir takes only physical ones)',
    );
    // Kept by the rule too: the rule is the reason given, the one the user wrote.
    const mixed = plan(rule({ keep: 2 }), [physical(1), logical(2), physical(3)]);
    assert.deepEqual(actions(mixed), { b1: 'keep', b2: 'keep', b3: 'delete' });
    assert.equal(reasonOf(mixed, 'b2'), 'kept: within keep 2 (2nd newest)');
    const young = plan(rule({ maxAge: '7d' }), [physical(1), logical(2), physical(9)]);
    assert.equal(
      reasonOf(young, 'b2'),
      `kept: younger than maxAge 7d (completed ${new Date(NOW.getTime() - 2 * DAY).toISOString()})`,
    );
    // A completed Backup whose method nothing records may be the only one a restore can take.
    const unknown = plan(rule({ keep: 1 }), [physical(1), done(2), done(3)]);
    assert.deepEqual(actions(unknown), { b1: 'keep', b2: 'keep', b3: 'delete' });
    assert.equal(
      reasonOf(unknown, 'b2'),
      'kept: newest completed backup whose method is not recorded (it may be the one a restore takes)',
    );
  });

  it('keeps the backup a restore takes, the greatest backup ID of its kind, also when an older one ended later', () => {
    // A long dump begun before a short one ends after it; two Backups begun in the same second
    // share a backup ID, and a restore takes the greater name.
    const dump = (name: string, id: string, endedAt: string): RetentionCandidate => ({
      name,
      backupId: id,
      phase: 'completed',
      endedAt: new Date(endedAt),
      origin: 'schedule',
      kind: 'logical',
    });
    const p = plan(rule({ keep: 1 }), [
      { ...dump('phys', '20261203T030000Z', '2026-12-03T03:10:00Z'), kind: 'physical' },
      dump('dump-long', '20261203T010000Z', '2026-12-03T02:50:00Z'),
      dump('dump-short', '20261203T020000Z', '2026-12-03T02:05:00Z'),
    ]);
    assert.deepEqual(actions(p), { phys: 'keep', 'dump-long': 'keep', 'dump-short': 'keep' });
    assert.equal(
      reasonOf(p, 'dump-short'),
      'kept: newest completed logical backup (a Restore takes only logical ones)',
    );
    const sameSecond = plan(rule({ keep: 1 }), [
      dump('a-git', '20261203T023000Z', '2026-12-03T02:59:00Z'),
      dump('z-sched', '20261203T023000Z', '2026-12-03T02:35:00Z'),
      dump('older', '20261203T010000Z', '2026-12-03T01:05:00Z'),
    ]);
    assert.deepEqual(actions(sameSecond), { 'a-git': 'keep', 'z-sched': 'keep', older: 'delete' });
  });

  it('a backup a pending or running restore or bootstrap names is kept, by name or by backup ID', () => {
    const b5 = done(5);
    const uses: BackupUse[] = [
      { backupName: 'b4', by: 'Restore shop/r1' },
      { backupId: b5.backupId, by: 'the bootstrap of Cluster shop/db2' },
    ];
    const p = plan(rule({ keep: 1 }), [done(1), done(4), b5, done(6)], uses);
    assert.deepEqual(actions(p), { b1: 'keep', b4: 'keep', b5: 'keep', b6: 'delete' });
    assert.equal(reasonOf(p, 'b4'), 'kept: used by Restore shop/r1');
    assert.equal(reasonOf(p, 'b5'), 'kept: used by the bootstrap of Cluster shop/db2');
  });

  it('pending and running backups are kept and do not count toward keep', () => {
    const p = plan(rule({ keep: 1 }), [
      { name: 'now', phase: 'running', origin: 'schedule' },
      { name: 'next', phase: 'pending', origin: 'schedule' },
      done(1),
      done(2),
    ]);
    assert.deepEqual(actions(p), { now: 'keep', next: 'keep', b1: 'keep', b2: 'delete' });
    assert.equal(reasonOf(p, 'now'), 'kept: running');
  });

  it('failed backups are ranked among the failed: beyond keep they go too', () => {
    const failed = (days: number): RetentionCandidate => ({ ...done(days), name: `f${days}`, phase: 'failed' });
    const p = plan(rule({ keep: 1 }), [done(1), failed(2), failed(3), failed(4)]);
    assert.deepEqual(actions(p), { b1: 'keep', f2: 'keep', f3: 'delete', f4: 'delete' });
    assert.equal(reasonOf(p, 'f2'), 'kept: within keep 1 (1st newest failed)');
    assert.equal(reasonOf(p, 'f3'), 'failed, beyond keep 1 (2nd newest failed)');
    const aged = plan(rule({ maxAge: '3d' }), [done(1), failed(2), failed(4)]);
    assert.match(reasonOf(aged, 'f4'), /^failed, older than maxAge 3d \(failed 2026-11-29T12:00:00.000Z\)$/);
  });

  it('a failed backup newer than every completed one never takes the "newest completed" place', () => {
    const p = plan(rule({ keep: 1 }), [{ ...done(0), name: 'f0', phase: 'failed' }, done(1), done(2)]);
    assert.deepEqual(actions(p), { f0: 'keep', b1: 'keep', b2: 'delete' });
    assert.equal(reasonOf(p, 'b1'), 'kept: newest completed backup');
  });

  it('a Backup from Git is expired, a scheduled one deleted, a bucket folder deleted', () => {
    const p = plan(rule({ keep: 1 }), [
      done(1),
      done(2, { origin: 'git' }),
      done(3, { origin: 'schedule' }),
      done(4, { origin: 'bucket' }),
    ]);
    assert.deepEqual(actions(p), { b1: 'keep', b2: 'expire', b3: 'delete', b4: 'delete' });
  });

  it('a Backup already expired is left alone and does not count', () => {
    const p = plan(rule({ keep: 2 }), [done(1), done(2, { origin: 'git', expired: true }), done(3), done(4)]);
    assert.deepEqual(actions(p), { b1: 'keep', b3: 'keep', b4: 'delete' });
    assert.deepEqual(p.alreadyExpired, ['b2']);
  });

  it('removals come oldest first, so a run stopped midway never leaves an older backup behind a newer gap', () => {
    const p = plan(rule({ keep: 1 }), [done(1), done(2), done(3), done(4, { origin: 'git' })]);
    assert.deepEqual(
      removals(p).map((d) => `${d.action} ${d.candidate.name}`),
      ['expire b4', 'delete b3', 'delete b2'],
    );
  });

  it('a bucket use by backup ID protects a bucket folder; a use by name does not match a folder name', () => {
    const b3 = done(3, { origin: 'bucket' });
    const p = plan(
      rule({ keep: 1 }),
      [done(1, { origin: 'bucket' }), done(2, { origin: 'bucket' }), b3],
      [
        { backupName: 'b2', by: 'Restore shop/r1' },
        { backupId: b3.backupId, by: 'Restore shop/r2' },
      ],
    );
    assert.deepEqual(actions(p), { b1: 'keep', b2: 'delete', b3: 'keep' });
  });

  it('a backup under Object Lock is kept while locked, saying until when and what it would be; then it goes', () => {
    const lockedUntil = new Date(NOW.getTime() + 2 * DAY);
    const p = plan(rule({ keep: 1 }), [done(1), done(2, { lockedUntil })]);
    assert.deepEqual(actions(p), { b1: 'keep', b2: 'keep' });
    assert.equal(
      reasonOf(p, 'b2'),
      'kept: under Object Lock until 2026-12-05T12:00:00.000Z (beyond keep 1 (2nd newest)); retention removes it after that',
    );
    assert.equal(removals(p).length, 0);
    const later = planRetention({
      rule: rule({ keep: 1 }),
      candidates: [done(1), done(2, { lockedUntil })],
      uses: [],
      now: new Date(lockedUntil.getTime() + 1),
    });
    assert.equal(later.decisions.find((d) => d.candidate.name === 'b2')?.action, 'delete');
  });

  it('no backups, one backup: nothing goes', () => {
    assert.deepEqual(plan(rule({ keep: 1 }), []).decisions, []);
    assert.deepEqual(actions(plan(rule({ keep: 1, maxAge: '1s' }), [done(100)])), { b100: 'keep' });
  });
});

describe('retention rule', () => {
  it('reads keep and maxAge, and says nothing when neither is set', () => {
    assert.equal(retentionRule(undefined), undefined);
    assert.equal(retentionRule({}), undefined);
    assert.deepEqual(retentionRule({ keep: 3 }), { keep: 3 });
    assert.deepEqual(retentionRule({ maxAge: '1d12h' }), { keep: undefined, maxAge: '1d12h', maxAgeSeconds: 129_600 });
    assert.equal(describeRule(rule({ keep: 2, maxAge: '7d' })), 'keep 2, maxAge 7d');
  });

  it('refuses keep below 1 and a maxAge that is not a duration, saying what to write', () => {
    assert.throws(
      () => retentionRule({ keep: 0 }),
      (err: unknown) => {
        assert.ok(err instanceof RetentionRuleError);
        assert.equal(err.reason, 'InvalidRetention');
        assert.match(err.message, /keep: 1 or more/);
        return true;
      },
    );
    assert.throws(() => retentionRule({ maxAge: 'a week' }), /write e\.g\. 7d/);
    assert.throws(() => retentionRule({ maxAge: '0d' }), RetentionRuleError);
  });

  it('ordinals read as English', () => {
    assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111].map(ordinal), [
      '1st',
      '2nd',
      '3rd',
      '4th',
      '11th',
      '12th',
      '13th',
      '21st',
      '22nd',
      '101st',
      '111th',
    ]);
  });
});

// Removing backups with a fake S3 and a fake API server: per backup metadata.json, then the archive,
// then open uploads, then the Backup object (deleted when scheduled, Expired when from Git); the
// store going down midway leaves nothing out of order, and a later run finishes the job.
import assert from 'node:assert/strict';
import { planRetention, removals, retentionRule } from '../../../runner/retention/retention-plan.js';
import { backupUses, candidateOfBackup, type BackupLike } from '../../../runner/retention/retention-inputs.js';
import { runRemovals, type RemovableBackup, type RetentionOutcome } from '../../../runner/retention/retention-run.js';
import { FakeS3, s3Error } from '../data-path/fake-s3.js';
import { silentLog } from '../reconcile/fakes.js';
import { BUCKET, FakeRetentionApi, keysOf, logS3, NOW, putBackup } from './retention-fixtures.js';

function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9000'), { code: 'ECONNREFUSED' });
}

async function runOnce(api: FakeRetentionApi, s3: FakeS3, keep: number): Promise<RetentionOutcome> {
  const { items } = await api.listLifeboat('Backup', 'shop');
  const backups = items as RemovableBackup[];
  const rule = retentionRule({ keep });
  assert.ok(rule);
  const plan = planRetention({ rule, candidates: backups.map(candidateOfBackup), uses: backupUses([], []), now: NOW });
  const byName = new Map(backups.map((b) => [b.metadata.name, b]));
  const todo = removals(plan).map((decision) => ({ decision, backup: byName.get(decision.candidate.name)! }));
  const client = s3.client();
  return runRemovals(todo, {
    kube: api,
    s3For: async () => client,
    now: () => NOW,
    log: silentLog,
    abort: { attempts: 1, retryMs: 1 },
  });
}

describe('retention run (fake S3, fake API server)', () => {
  let api: FakeRetentionApi;
  let s3: FakeS3;

  beforeEach(() => {
    api = new FakeRetentionApi();
    s3 = new FakeS3();
  });

  it('removes oldest first, each backup metadata.json → archive → open uploads → Backup object', async () => {
    for (const [name, daysAgo] of [
      ['b1', 1],
      ['b2', 2],
      ['b3', 3],
      ['b4', 4],
    ] as const) {
      putBackup(api, s3, { name, daysAgo, openUpload: name === 'b4' });
    }
    logS3(s3, api.log);
    const outcome = await runOnce(api, s3, 2);
    assert.deepEqual(outcome.left, []);
    assert.deepEqual(
      outcome.done.map((d) => `${d.action} ${d.name}: ${d.reason}`),
      ['delete b4: beyond keep 2 (4th newest)', 'delete b3: beyond keep 2 (3rd newest)'],
    );
    const b4 = api.log.slice(0, 7).map((l) => l.replace(/prod\/db\/b4\/\d{8}T\d{6}Z\//, ''));
    assert.deepEqual(b4, [
      'HeadObject metadata.json',
      'HeadObject backup.sql',
      'DeleteObject metadata.json',
      'DeleteObject backup.sql',
      'ListMultipartUploads backup.sql',
      'AbortMultipartUpload backup.sql',
      'delete Backup b4',
    ]);
    assert.equal(api.log[api.log.length - 1], 'delete Backup b3');
    assert.deepEqual(keysOf(s3, 'b4'), []);
    assert.deepEqual(keysOf(s3, 'b3'), []);
    assert.equal(keysOf(s3, 'b2').length, 2);
    assert.equal(s3.uploads.size, 0, 'the open upload was aborted');
    assert.equal(api.get('Backup', 'shop', 'b4'), undefined);
    assert.ok(api.get('Backup', 'shop', 'b2'));
  });

  it('a Backup from Git keeps its object and gets Expired, with when and why; the next plan skips it', async () => {
    putBackup(api, s3, { name: 'b1', daysAgo: 1 });
    putBackup(api, s3, { name: 'g2', daysAgo: 2, origin: 'git' });
    const outcome = await runOnce(api, s3, 1);
    assert.deepEqual(
      outcome.done.map((d) => `${d.action} ${d.name}`),
      ['expire g2'],
    );
    assert.deepEqual(keysOf(s3, 'g2'), []);
    const g2 = api.get('Backup', 'shop', 'g2');
    assert.ok(g2, 'a Backup from Git is never deleted');
    const expired = (
      g2.status?.['conditions'] as { type: string; status: string; reason: string; message: string }[]
    )[0];
    assert.equal(expired?.type, 'Expired');
    assert.equal(expired?.status, 'True');
    assert.equal(expired?.reason, 'RetentionExpired');
    assert.match(
      expired?.message ?? '',
      /at 2026-12-03T12:00:00.000Z: beyond keep 1 \(2nd newest\); it can no longer be restored/,
    );
    assert.equal(candidateOfBackup(g2 as unknown as BackupLike).expired, true);
    const again = await runOnce(api, s3, 1);
    assert.deepEqual(again, { done: [], left: [] }, 'an expired Backup is never processed again');
  });

  it('a failed Backup beyond keep goes with its open upload; one that never uploaded just goes', async () => {
    putBackup(api, s3, { name: 'b1', daysAgo: 1 });
    putBackup(api, s3, { name: 'f2', daysAgo: 2, phase: 'failed' });
    putBackup(api, s3, { name: 'f3', daysAgo: 3, phase: 'failed', openUpload: true });
    putBackup(api, s3, { name: 'f4', daysAgo: 4, phase: 'failed', noObjects: true });
    const outcome = await runOnce(api, s3, 1);
    assert.deepEqual(
      outcome.done.map((d) => d.name),
      ['f4', 'f3'],
    );
    assert.equal(s3.uploads.size, 0);
    assert.deepEqual(keysOf(s3, 'f3'), []);
    assert.equal(keysOf(s3, 'f2').length, 1, 'the newest failed Backup stays for diagnosis');
  });

  it('the store going down midway stops every removal after the last good step; a later run finishes in order', async () => {
    for (const [name, daysAgo] of [
      ['b1', 1],
      ['b2', 2],
      ['b3', 3],
      ['b4', 4],
    ] as const) {
      putBackup(api, s3, { name, daysAgo });
    }
    let down = false;
    logS3(s3, api.log, (command, key) => {
      if (command === 'DeleteObject' && key.includes('/b3/') && key.endsWith('backup.sql')) down = true;
      return down ? refused() : undefined;
    });
    const first = await runOnce(api, s3, 1);
    assert.deepEqual(
      first.done.map((d) => d.name),
      ['b4'],
    );
    assert.deepEqual(
      first.left.map((l) => l.name),
      ['b3', 'b2'],
    );
    assert.match(
      first.left[0]?.why ?? '',
      /deleting s3:\/\/lifeboat\/prod\/db\/b3\/.*backup\.sql failed: connection refused/,
    );
    assert.match(first.left[1]?.why ?? '', /^not tried: /);
    // b3 lost its metadata.json first (never again taken for complete), kept its archive and object;
    // b2, newer, was not touched at all.
    assert.deepEqual(
      keysOf(s3, 'b3').map((k) => k.replace(/.*\//, '')),
      ['backup.sql'],
    );
    assert.equal(keysOf(s3, 'b2').length, 2);
    assert.ok(api.get('Backup', 'shop', 'b3'));
    down = false;
    logS3(s3, api.log);
    const second = await runOnce(api, s3, 1);
    assert.deepEqual(
      second.done.map((d) => d.name),
      ['b3', 'b2'],
    );
    assert.deepEqual(second.left, []);
    assert.deepEqual(
      [...s3.objects.keys()].map((k) => k.replace(/\/\d{8}T\d{6}Z\//, '/')),
      [`${BUCKET}/prod/db/b1/backup.sql`, `${BUCKET}/prod/db/b1/metadata.json`],
    );
  });

  it('an object lock (AccessDenied) stops that backup only; the others still go', async () => {
    for (const [name, daysAgo] of [
      ['b1', 1],
      ['b2', 2],
      ['b3', 3],
    ] as const)
      putBackup(api, s3, { name, daysAgo });
    logS3(s3, api.log, (command, key) =>
      command === 'DeleteObject' && key.includes('/b3/') ? s3Error('AccessDenied', 403) : undefined,
    );
    const outcome = await runOnce(api, s3, 1);
    assert.deepEqual(
      outcome.done.map((d) => d.name),
      ['b2'],
    );
    assert.equal(outcome.left[0]?.name, 'b3');
    assert.match(outcome.left[0]?.why ?? '', /access denied.*object lock or retention period also refuses deletes/);
    assert.equal(keysOf(s3, 'b3').length, 2, 'nothing of b3 went');
    assert.ok(api.get('Backup', 'shop', 'b3'));
  });

  it('objects still locked (HeadObject shows a retain-until date ahead): nothing of it deleted, the Backup stays, it says until when', async () => {
    const until = new Date(NOW.getTime() + 3_600_000);
    putBackup(api, s3, { name: 'b1', daysAgo: 1 });
    putBackup(api, s3, { name: 'b2', daysAgo: 2 });
    putBackup(api, s3, { name: 'b3', daysAgo: 3, lockedUntil: until, lockUnrecorded: true });
    logS3(s3, api.log);
    const outcome = await runOnce(api, s3, 1);
    assert.deepEqual(
      outcome.done.map((d) => d.name),
      ['b2'],
    );
    assert.equal(outcome.left[0]?.name, 'b3');
    assert.match(
      outcome.left[0]?.why ?? '',
      /s3:\/\/lifeboat\/prod\/db\/b3\/.*metadata\.json is under Object Lock \(GOVERNANCE\) until 2026-12-03T13:00:00\.000Z; retention removes it after that/,
    );
    assert.deepEqual(outcome.left[0]?.retryAt, until);
    assert.equal(keysOf(s3, 'b3').length, 2, 'nothing of b3 went');
    assert.ok(!api.log.some((l) => l.startsWith('DeleteObject') && l.includes('/b3/')), 'no delete marker hides it');
    assert.ok(api.get('Backup', 'shop', 'b3'), 'the Backup object stays');
  });

  it('the API server refusing the delete leaves the Backup (its objects are gone) and stops', async () => {
    for (const [name, daysAgo] of [
      ['b1', 1],
      ['b2', 2],
      ['b3', 3],
    ] as const)
      putBackup(api, s3, { name, daysAgo });
    api.deleteFault = new Error('the API server is unavailable');
    const outcome = await runOnce(api, s3, 1);
    assert.deepEqual(outcome.done, []);
    assert.deepEqual(
      outcome.left.map((l) => l.name),
      ['b3', 'b2'],
    );
    assert.equal(keysOf(s3, 'b2').length, 2, 'nothing newer was touched');
  });

  it('a Git Backup deleted and re-applied while retention removes the old one’s objects: the new one is not marked Expired', async () => {
    putBackup(api, s3, { name: 'b1', daysAgo: 1 });
    putBackup(api, s3, { name: 'g2', daysAgo: 2, origin: 'git' });
    // GitOps re-creates g2 (a new uid, not run yet) between retention's list and its status write.
    s3.fault = (command) => {
      const old = api.get('Backup', 'shop', 'g2');
      if (command === 'DeleteObject' && old && old.metadata.uid !== 'uid-g2-new') {
        old.metadata.uid = 'uid-g2-new';
        old.status = {};
      }
      return undefined;
    };
    const outcome = await runOnce(api, s3, 1);
    assert.deepEqual(outcome.left, []);
    assert.deepEqual(keysOf(s3, 'g2'), [], 'the old g2’s objects went');
    const fresh = api.get('Backup', 'shop', 'g2');
    assert.equal(fresh?.metadata.uid, 'uid-g2-new');
    assert.deepEqual(fresh?.status?.['conditions'] ?? [], [], 'the re-applied g2 will run: not Expired');
  });
});

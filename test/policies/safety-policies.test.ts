import assert from 'node:assert/strict';
import { methodProblem } from '../../policies/safety-policies.js';
import { backup, cluster, policiesOf, reviewWith } from '../helpers.js';

function scheduled(schedule: string, template: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'ScheduledBackup',
    metadata: { name: 'nightly' },
    spec: { schedule, backupTemplate: { cluster: { name: 'shop' }, ...template } },
  };
}

describe('safety policies (fake neighbours)', () => {
  it('methods suit engines', () => {
    assert.equal(methodProblem('mariabackup', 'mariadb', '10.11'), undefined);
    assert.match(methodProblem('mariabackup', 'mysql', '8.0') ?? '', /MariaDB only/);
    assert.match(methodProblem('xtrabackup', 'mariadb', '10.11') ?? '', /cannot back up MariaDB 10.11/);
    assert.match(methodProblem('xtrabackup', 'mariadb', undefined) ?? '', /10.3 or later/);
    assert.equal(methodProblem('xtrabackup', 'mariadb', '10.2.44'), undefined);
    assert.equal(methodProblem('xtrabackup', 'percona-xtradb', '8.0'), undefined);
    assert.equal(methodProblem('mysqldump', 'mysql', '8.0'), undefined);
    assert.equal(methodProblem('mysqldump', 'mariadb', '10.11'), undefined);
    assert.match(
      methodProblem('mariadb-dump', 'mysql', '8.0') ?? '',
      /mariadb-dump backs up MariaDB only; use mysqldump/,
    );
    assert.match(methodProblem('mariadb-dump', 'percona-xtradb', '8.0') ?? '', /MariaDB only/);
  });

  it('LB503 checks the Cluster default method and a schedule template too', () => {
    assert.deepEqual(
      policiesOf(
        reviewWith(
          cluster({
            engine: 'mysql',
            backup: { objectStore: { bucket: 'bkt', inheritFromIAMRole: true }, method: 'mariabackup' },
          }),
        ),
      ),
      ['LB503'],
    );
    assert.deepEqual(
      policiesOf(reviewWith(scheduled('0 3 * * *', { method: 'xtrabackup' }), { objects: [cluster()] })),
      ['LB503'],
    );
  });

  describe('LB503 on UPDATE: the problem the stored object already had is warned, a new one refused', () => {
    const severities = (result: ReturnType<typeof reviewWith>) =>
      result.findings.filter((f) => f.policy === 'LB503').map((f) => f.severity);
    const mysql = cluster({ engine: 'mysql', version: '8.0' });
    const maria = cluster({ version: '10.11' }, 'maria');
    const dumped = backup({ method: 'mariadb-dump' });

    it('a Backup: its label edited, the method kept, is warned, saying what to do; a changed method refused', () => {
      assert.deepEqual(severities(reviewWith(dumped, { objects: [mysql] })), ['deny']);
      const labelled = backup({ method: 'mariadb-dump' }, { labels: { team: 'shop' } });
      const kept = reviewWith(labelled, { objects: [mysql], old: dumped });
      assert.deepEqual(severities(kept), ['warn']);
      assert.match(
        kept.findings.find((f) => f.policy === 'LB503')?.message ?? '',
        /stored before LB503 refused it: every backup with this method fails UnsupportedMethod; delete this Backup and create one with another method\)$/,
      );
      const fromMysqldump = reviewWith(dumped, { objects: [mysql], old: backup({ method: 'mysqldump' }) });
      assert.deepEqual(severities(fromMysqldump), ['deny']);
    });

    it('a Backup or schedule moved to another Cluster is judged as new', () => {
      const onMaria = backup({ method: 'mariadb-dump', cluster: { name: 'maria' } });
      assert.deepEqual(severities(reviewWith(dumped, { objects: [mysql, maria], old: onMaria })), ['deny']);
      const schedule = (name: string) => scheduled('0 3 * * *', { method: 'mariadb-dump', cluster: { name } });
      assert.deepEqual(severities(reviewWith(schedule('shop'), { objects: [mysql, maria], old: schedule('maria') })), [
        'deny',
      ]);
      const kept = reviewWith(schedule('shop'), { objects: [mysql], old: schedule('shop') });
      assert.match(kept.findings.find((f) => f.policy === 'LB503')?.message ?? '', /; change the method\)$/);
    });

    it('a Cluster: warned only while engine and version give the same verdict', () => {
      const store = { objectStore: { bucket: 'bkt', inheritFromIAMRole: true } };
      const withMethod = (method: string, spec: Record<string, unknown>) =>
        cluster({ ...spec, backup: { ...store, method } });
      const mysqlDump = withMethod('mariadb-dump', { engine: 'mysql', version: '8.0' });
      assert.deepEqual(severities(reviewWith(mysqlDump, { old: mysqlDump })), ['warn']);
      assert.deepEqual(severities(reviewWith(mysqlDump, { old: withMethod('mariadb-dump', {}) })), ['deny']);
      // xtrabackup was fine for MariaDB 10.2; the upgrade to 10.11 is a new problem.
      const xtra = (version: string) => withMethod('xtrabackup', { version });
      assert.deepEqual(severities(reviewWith(xtra('10.11'), { old: xtra('10.2') })), ['deny']);
      assert.deepEqual(severities(reviewWith(xtra('10.11'), { old: xtra('10.11') })), ['warn']);
    });
  });

  it('LB501 wants a non-blank reason annotation', () => {
    const unsafe = (annotations?: Record<string, string>) =>
      backup({ allowUnsafe: true }, annotations ? { annotations } : {});
    assert.deepEqual(policiesOf(reviewWith(unsafe(), { objects: [cluster()] })), ['LB501']);
    assert.deepEqual(policiesOf(reviewWith(unsafe({ 'lifeboat.dev/unsafe-reason': '  ' }), { objects: [cluster()] })), [
      'LB501',
    ]);
    assert.deepEqual(
      policiesOf(reviewWith(unsafe({ 'lifeboat.dev/unsafe-reason': 'node 2 is gone' }), { objects: [cluster()] })),
      [],
    );
    assert.deepEqual(policiesOf(reviewWith(backup({ allowUnsafe: false }), { objects: [cluster()] })), []);
  });

  it('LB502 refuses allowUnsafe on a schedule even with a reason', () => {
    assert.deepEqual(policiesOf(reviewWith(scheduled('0 3 * * *', { allowUnsafe: true }), { objects: [cluster()] })), [
      'LB502',
    ]);
  });

  it('LB505 uses the configured floor', () => {
    const hourly = scheduled('0 * * * *');
    assert.deepEqual(policiesOf(reviewWith(hourly, { objects: [cluster()] })), []);
    assert.deepEqual(policiesOf(reviewWith(hourly, { objects: [cluster()], minScheduleIntervalSeconds: 7200 })), [
      'LB505',
    ]);
    const bad = reviewWith(scheduled('0 3 * *'), { objects: [cluster()] });
    assert.deepEqual(policiesOf(bad), ['LB504'], 'a schedule that does not parse is not also reported as too frequent');
  });

  it('LB506 refuses keep below 1', () => {
    const keep = (n: number) =>
      cluster({ backup: { objectStore: { bucket: 'bkt', inheritFromIAMRole: true }, retention: { keep: n } } });
    assert.deepEqual(policiesOf(reviewWith(keep(0))), ['LB506']);
    assert.deepEqual(policiesOf(reviewWith(keep(-3))), ['LB506']);
    assert.deepEqual(policiesOf(reviewWith(keep(1))), []);
  });
});

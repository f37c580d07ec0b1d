// The health rules: Galera members and replicas judged from the values they report.
import assert from 'node:assert/strict';
import { staticInstances } from '../../../runner/engine/instance-list.js';
import {
  describeProblems,
  galeraMemberProblems,
  galeraProblems,
  isSynced,
  replicaProblems,
  type GaleraStatus,
  type MemberReport,
  type ReplicaStatus,
} from '../../../runner/engine/source-health.js';
import { replicaStatusFromRow } from '../../../runner/engine/source-status.js';

const [node1, node2, node3] = staticInstances([
  { name: 'node1', host: 'h', port: 1 },
  { name: 'node2', host: 'h', port: 2 },
  { name: 'node3', host: 'h', port: 3 },
]);

const SYNCED: GaleraStatus = {
  wsrep_ready: 'ON',
  wsrep_connected: 'ON',
  wsrep_cluster_status: 'Primary',
  wsrep_local_state_comment: 'Synced',
  wsrep_cluster_size: '3',
};

describe('source health', () => {
  const galeraCases: { title: string; report: MemberReport<GaleraStatus>; want: string[] }[] = [
    { title: 'Synced in a Primary component of 3', report: { instance: node1!, status: SYNCED }, want: [] },
    {
      title: 'desynced donor',
      report: { instance: node1!, status: { ...SYNCED, wsrep_local_state_comment: 'Donor/Desynced' } },
      want: ['wsrep_local_state_comment=Donor/Desynced (want Synced)'],
    },
    {
      title: 'non-primary component of 1, not ready',
      report: {
        instance: node1!,
        status: { ...SYNCED, wsrep_ready: 'OFF', wsrep_cluster_status: 'non-Primary', wsrep_cluster_size: '1' },
      },
      want: [
        'wsrep_ready=OFF (want ON)',
        'wsrep_cluster_status=non-Primary (want Primary)',
        'wsrep_cluster_size=1 (want 3)',
      ],
    },
    {
      title: 'disconnected',
      report: { instance: node1!, status: { ...SYNCED, wsrep_connected: 'OFF' } },
      want: ['wsrep_connected=OFF (want ON)'],
    },
    {
      title: 'a server without wsrep (status absent)',
      report: { instance: node1!, status: {} },
      want: [
        'wsrep_ready=(absent) (want ON)',
        'wsrep_connected=(absent) (want ON)',
        'wsrep_cluster_status=(absent) (want Primary)',
        'wsrep_local_state_comment=(absent) (want Synced)',
        'wsrep_cluster_size=(absent) (want 3)',
      ],
    },
    {
      title: 'unreachable',
      report: { instance: node1!, unreachable: 'connect ECONNREFUSED' },
      want: ['unreachable: connect ECONNREFUSED'],
    },
  ];
  for (const c of galeraCases) {
    it(`galera member: ${c.title}`, () => assert.deepEqual(galeraMemberProblems(c.report, 3), c.want));
  }

  it('galera: the expected size is the number of instances; only unhealthy members are listed', () => {
    const reports = [
      { instance: node1!, status: SYNCED },
      { instance: node2!, status: { ...SYNCED, wsrep_local_state_comment: 'Joined' } },
      { instance: node3!, unreachable: 'timeout' },
    ];
    const problems = galeraProblems(reports);
    assert.deepEqual(
      problems.map((p) => p.instance),
      ['node2', 'node3'],
    );
    assert.equal(
      describeProblems(problems),
      'node2: wsrep_local_state_comment=Joined (want Synced); node3: unreachable: timeout',
    );
    assert.deepEqual(reports.map(isSynced), [true, false, false]);
  });

  const ok: ReplicaStatus = { configured: true, ioRunning: true, sqlRunning: true, lagSeconds: 3 };
  const replicaCases: { title: string; status?: ReplicaStatus; unreachable?: string; want: string[] }[] = [
    { title: 'both threads, small lag', status: ok, want: [] },
    { title: 'lag exactly at the limit', status: { ...ok, lagSeconds: 300 }, want: [] },
    { title: 'lag over the limit', status: { ...ok, lagSeconds: 301 }, want: ['lag 301 s (limit 300 s)'] },
    {
      title: 'IO thread stopped, lag unknown',
      status: { ...ok, ioRunning: false, lagSeconds: null },
      want: ['IO thread not running', 'lag unknown'],
    },
    { title: 'SQL thread stopped', status: { ...ok, sqlRunning: false }, want: ['SQL thread not running'] },
    {
      title: 'not a replica',
      status: { configured: false, ioRunning: false, sqlRunning: false, lagSeconds: null },
      want: ['not replicating (SHOW REPLICA STATUS is empty)'],
    },
    { title: 'unreachable', unreachable: 'refused', want: ['unreachable: refused'] },
  ];
  for (const c of replicaCases) {
    it(`replica: ${c.title}`, () => {
      const report = {
        instance: node2!,
        ...(c.status ? { status: c.status } : {}),
        ...(c.unreachable ? { unreachable: c.unreachable } : {}),
      };
      assert.deepEqual(replicaProblems(report), c.want);
    });
  }

  it('replica: the lag limit is configurable', () => {
    assert.deepEqual(replicaProblems({ instance: node2!, status: { ...ok, lagSeconds: 30 } }, 10), [
      'lag 30 s (limit 10 s)',
    ]);
  });

  const rowCases: { title: string; row?: Record<string, unknown>; want: ReplicaStatus }[] = [
    {
      title: 'MariaDB column names',
      row: { Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Seconds_Behind_Master: '12' },
      want: { configured: true, ioRunning: true, sqlRunning: true, lagSeconds: 12 },
    },
    {
      title: 'MySQL 8 column names, IO connecting, lag NULL',
      row: { Replica_IO_Running: 'Connecting', Replica_SQL_Running: 'Yes', Seconds_Behind_Source: null },
      want: { configured: true, ioRunning: false, sqlRunning: true, lagSeconds: null },
    },
    { title: 'no row', want: { configured: false, ioRunning: false, sqlRunning: false, lagSeconds: null } },
  ];
  for (const c of rowCases) {
    it(`SHOW REPLICA STATUS row: ${c.title}`, () => assert.deepEqual(replicaStatusFromRow(c.row), c.want));
  }
});

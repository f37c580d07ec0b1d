// Which instance a backup reads from, per topology and target, and the failures that say why not.
import assert from 'node:assert/strict';
import { staticInstances, type DbInstance } from '../../../runner/engine/instance-list.js';
import {
  chooseSource,
  SourceBusyError,
  type ChoiceInput,
  type Observed,
} from '../../../runner/engine/source-choice.js';
import type { GaleraStatus, ReplicaStatus } from '../../../runner/engine/source-health.js';
import {
  ConnectionFailedError,
  NoHealthySourceError,
  UnsafeClusterError,
  type WorkFailure,
} from '../../../runner/work-failures.js';

const three = staticInstances([
  { name: 'node1', host: '127.0.0.1', port: 13307 },
  { name: 'node2', host: '127.0.0.1', port: 13308 },
  { name: 'node3', host: '127.0.0.1', port: 13309 },
]);
const one = staticInstances([{ name: 'solo', host: '127.0.0.1', port: 13306 }]);

const SYNCED: GaleraStatus = {
  wsrep_ready: 'ON',
  wsrep_connected: 'ON',
  wsrep_cluster_status: 'Primary',
  wsrep_local_state_comment: 'Synced',
  wsrep_cluster_size: '3',
};

type GaleraState = 'synced' | 'donor' | 'down' | 'denied';

function galera(instances: readonly DbInstance[], states: GaleraState[]): Observed<GaleraStatus>[] {
  return instances.map((instance, i) => {
    const state = states[i] ?? 'synced';
    const size = String(instances.length);
    if (state === 'synced') return { instance, status: { ...SYNCED, wsrep_cluster_size: size } };
    if (state === 'donor') {
      return { instance, status: { ...SYNCED, wsrep_cluster_size: size, wsrep_local_state_comment: 'Donor/Desynced' } };
    }
    const failure = new ConnectionFailedError(`cannot connect to instance ${instance.name}: ${state}`);
    return { instance, unreachable: failure.message, failure, accessDenied: state === 'denied' };
  });
}

const healthy: ReplicaStatus = { configured: true, ioRunning: true, sqlRunning: true, lagSeconds: 1 };
const lagging: ReplicaStatus = { ...healthy, lagSeconds: 9000 };
const stopped: ReplicaStatus = { ...healthy, sqlRunning: false };
const primaryStatus: ReplicaStatus = { configured: false, ioRunning: false, sqlRunning: false, lagSeconds: null };

function replicas(statuses: (ReplicaStatus | 'down')[]): Observed<ReplicaStatus>[] {
  return three.map((instance, i) => {
    const s = statuses[i] ?? healthy;
    if (s !== 'down') return { instance, status: s };
    const failure = new ConnectionFailedError(`cannot connect to instance ${instance.name}`);
    return { instance, unreachable: 'refused', failure };
  });
}

interface Case {
  title: string;
  input: Omit<ChoiceInput, 'clusterName'>;
  want?: { instance: string; desync: boolean; waived?: number };
  error?: [new (...args: never[]) => WorkFailure, RegExp];
}

const cases: Case[] = [
  // galera
  {
    title: 'galera prefer-standby, 3 × Synced → node3 (highest ordinal), desynced',
    input: { topology: 'galera', instances: three, galera: galera(three, []) },
    want: { instance: 'node3', desync: true },
  },
  {
    title: 'galera prefer-standby with node3 busy (another Backup reads it) → node2',
    input: { topology: 'galera', instances: three, galera: galera(three, []), busy: new Set(['node3']) },
    want: { instance: 'node2', desync: true },
  },
  {
    title: 'galera primary → the writer, not desynced',
    input: { topology: 'galera', target: 'primary', instances: three, galera: galera(three, []) },
    want: { instance: 'node1', desync: false },
  },
  {
    title: 'galera named instance node2 → node2, desynced',
    input: { topology: 'galera', target: 'node2', instances: three, galera: galera(three, []) },
    want: { instance: 'node2', desync: true },
  },
  {
    title: 'galera with a donor member → UnsafeCluster naming it and its state',
    input: { topology: 'galera', instances: three, galera: galera(three, ['synced', 'donor']) },
    error: [UnsafeClusterError, /node2: wsrep_local_state_comment=Donor\/Desynced \(want Synced\).*allowUnsafe/],
  },
  {
    title: 'galera with an unreachable member → UnsafeCluster (an unreachable member is unhealthy)',
    input: { topology: 'galera', instances: three, galera: galera(three, ['synced', 'synced', 'down']) },
    error: [UnsafeClusterError, /node3: unreachable: .*; fix the cluster/],
  },
  {
    title: 'galera unhealthy + allowUnsafe → proceeds from the Synced standby, records the waived checks',
    input: {
      topology: 'galera',
      allowUnsafe: true,
      instances: three,
      galera: galera(three, ['synced', 'synced', 'down']),
    },
    want: { instance: 'node2', desync: true, waived: 1 },
  },
  {
    title: 'galera allowUnsafe, no Synced standby → the writer',
    input: {
      topology: 'galera',
      allowUnsafe: true,
      instances: three,
      galera: galera(three, ['synced', 'donor', 'down']),
    },
    want: { instance: 'node1', desync: false, waived: 2 },
  },
  {
    title: 'galera allowUnsafe, no Synced standby and the writer down → NoHealthySource',
    input: {
      topology: 'galera',
      allowUnsafe: true,
      instances: three,
      galera: galera(three, ['down', 'donor', 'down']),
    },
    error: [NoHealthySourceError, /no instance to back up from/],
  },
  {
    title: 'galera allowUnsafe, named member not Synced → that member, not desynced',
    input: {
      topology: 'galera',
      target: 'node2',
      allowUnsafe: true,
      instances: three,
      galera: galera(three, ['synced', 'donor']),
    },
    want: { instance: 'node2', desync: false, waived: 1 },
  },
  {
    title: 'galera of one member: prefer-standby falls back to it',
    input: { topology: 'galera', instances: one, galera: galera(one, []) },
    want: { instance: 'solo', desync: false },
  },
  {
    title: 'galera, every member down → the writer’s ConnectionFailed (not a health verdict)',
    input: { topology: 'galera', instances: three, galera: galera(three, ['down', 'down', 'down']) },
    error: [ConnectionFailedError, /instance node1/],
  },
  {
    title: 'galera, access denied anywhere → ConnectionFailed',
    input: { topology: 'galera', instances: three, galera: galera(three, ['synced', 'denied']) },
    error: [ConnectionFailedError, /node2: denied/],
  },
  {
    title: 'unknown target name → NoHealthySource listing the valid names',
    input: { topology: 'galera', target: 'node9', instances: three, galera: galera(three, []) },
    error: [NoHealthySourceError, /target 'node9' names no instance; .*one of: node1, node2, node3/],
  },
  // replication
  {
    title: 'replication prefer-standby → the healthy replica with the highest ordinal',
    input: { topology: 'replication', instances: three, replicas: replicas([primaryStatus, healthy, healthy]) },
    want: { instance: 'node3', desync: false },
  },
  {
    title: 'replication prefer-standby skips a lagging replica',
    input: { topology: 'replication', instances: three, replicas: replicas([primaryStatus, healthy, lagging]) },
    want: { instance: 'node2', desync: false },
  },
  {
    title: 'replication prefer-standby honours maxLagSeconds',
    input: {
      topology: 'replication',
      maxLagSeconds: 20000,
      instances: three,
      replicas: replicas([primaryStatus, healthy, lagging]),
    },
    want: { instance: 'node3', desync: false },
  },
  {
    title: 'replication, no healthy replica → the primary, nothing waived',
    input: { topology: 'replication', instances: three, replicas: replicas([primaryStatus, stopped, 'down']) },
    want: { instance: 'node1', desync: false, waived: 0 },
  },
  {
    title: 'replication, no healthy replica and the primary down → NoHealthySource listing why',
    input: { topology: 'replication', instances: three, replicas: replicas(['down', stopped, lagging]) },
    error: [NoHealthySourceError, /node2: SQL thread not running; node3: lag 9000 s/],
  },
  {
    title: 'replication, named replica with a stopped thread → UnsafeCluster',
    input: { topology: 'replication', target: 'node2', instances: three, replicas: replicas([primaryStatus, stopped]) },
    error: [UnsafeClusterError, /replica node2 .*SQL thread not running/],
  },
  {
    title: 'replication, named replica with a stopped thread + allowUnsafe → it, waived',
    input: {
      topology: 'replication',
      target: 'node2',
      allowUnsafe: true,
      instances: three,
      replicas: replicas([primaryStatus, stopped]),
    },
    want: { instance: 'node2', desync: false, waived: 1 },
  },
  {
    title: 'replication primary, the writer down → its ConnectionFailed',
    input: { topology: 'replication', target: 'primary', instances: three, replicas: replicas(['down']) },
    error: [ConnectionFailedError, /instance node1/],
  },
  // standalone
  {
    title: 'standalone prefer-standby → the only instance',
    input: { topology: 'standalone', instances: one },
    want: { instance: 'solo', desync: false },
  },
  {
    title: 'standalone by name → it',
    input: { topology: 'standalone', target: 'solo', instances: one },
    want: { instance: 'solo', desync: false },
  },
  {
    title: 'standalone, a name that is not it → NoHealthySource',
    input: { topology: 'standalone', target: 'other', instances: one },
    error: [NoHealthySourceError, /one of: solo/],
  },
];

describe('source choice', () => {
  for (const c of cases) {
    it(c.title, () => {
      const input = { clusterName: 'shop', ...c.input };
      if (c.error) {
        const [Type, message] = c.error;
        assert.throws(
          () => chooseSource(input),
          (err: unknown) => {
            assert.ok(err instanceof Type, `want ${Type.name}, got ${String(err)}`);
            assert.match(err.message, message);
            return true;
          },
        );
        return;
      }
      const got = chooseSource(input);
      assert.equal(got.instance.name, c.want?.instance);
      assert.equal(got.desync, c.want?.desync);
      assert.equal(got.waived.length, c.want?.waived ?? 0);
    });
  }

  it('galera: a member another Backup desynced (busy) does not fail the gate; the next standby is chosen', () => {
    const reports = galera(three, ['synced', 'synced', 'donor']);
    const base = { clusterName: 'db', topology: 'galera', instances: three, galera: reports } as const;
    assert.throws(() => chooseSource(base), UnsafeClusterError, 'not busy: a desynced member is a problem');
    assert.equal(chooseSource({ ...base, busy: new Set(['node3']) }).instance.name, 'node2');
  });

  it('galera: with every Synced standby busy, or a busy named target, the choice says to wait', () => {
    const base = { clusterName: 'db', topology: 'galera', instances: three, galera: galera(three, []) } as const;
    assert.throws(() => chooseSource({ ...base, busy: new Set(['node2', 'node3']) }), SourceBusyError);
    assert.throws(() => chooseSource({ ...base, target: 'node2', busy: new Set(['node2']) }), SourceBusyError);
  });

  it('galera: with both standbys desynced by the two Backups that hold them, a third waits rather than read the writer', () => {
    const reports = galera(three, ['synced', 'donor', 'donor']);
    const input = {
      clusterName: 'db',
      topology: 'galera',
      instances: three,
      galera: reports,
      busy: new Set(['node2', 'node3']),
    } as const;
    assert.throws(() => chooseSource(input), SourceBusyError);
  });

  it('waived checks name the member and what it reported', () => {
    const got = chooseSource({
      clusterName: 'shop',
      topology: 'galera',
      allowUnsafe: true,
      instances: three,
      galera: galera(three, ['synced', 'donor']),
    });
    assert.deepEqual(got.waived, ['node2: wsrep_local_state_comment=Donor/Desynced (want Synced)']);
    assert.equal(got.instance.name, 'node3');
  });
});

// The I/O around source-choice.ts: connect to the members the topology needs, read what the
// choice judges, decide, and hand back an open connection to the chosen instance only.
import type { Logger } from '../../lib/logger.js';
import { ConnectionFailedError } from '../work-failures.js';
import {
  connectInstance,
  isAccessDenied,
  type ConnectOptions,
  type DbCredentials,
  type SqlConnection,
} from './db-connection.js';
import type { DbInstance } from './instance-list.js';
import { chooseSource, type ChoiceInput, type Observed, type SourceChoice } from './source-choice.js';
import { readGaleraStatus, readReplicaStatus } from './source-status.js';

export interface SelectionInput extends Pick<
  ChoiceInput,
  'clusterName' | 'topology' | 'target' | 'allowUnsafe' | 'instances' | 'maxLagSeconds' | 'busy'
> {
  readonly credentials: DbCredentials;
  readonly connect?: ConnectOptions;
  readonly logger?: Logger;
  /** Replaceable for tests; connectInstance by default. */
  readonly connector?: (
    instance: DbInstance,
    credentials: DbCredentials,
    options?: ConnectOptions,
  ) => Promise<SqlConnection>;
}

/** The decision plus an open connection to the chosen instance; the caller closes it. */
export interface SelectedSource extends SourceChoice {
  readonly connection: SqlConnection;
}

interface Probe<S> {
  readonly observed: Observed<S>;
  readonly connection?: SqlConnection;
}

/**
 * Chooses the backup source as source-choice.ts describes and returns a connection to it. Every
 * other connection is closed, also when the choice fails.
 */
export async function selectSource(input: SelectionInput): Promise<SelectedSource> {
  if (input.topology === 'galera') {
    const probes = await probeEach(input, readGaleraStatus);
    return decide(input, probes, { galera: probes.map((p) => p.observed) });
  }
  if (input.topology === 'replication') {
    const probes = await probeEach(input, readReplicaStatus);
    return decide(input, probes, { replicas: probes.map((p) => p.observed) });
  }
  // Standalone reads nothing: the one connection made below is the backup's.
  return decide(input, [], {});
}

async function decide(
  input: SelectionInput,
  probes: readonly Probe<unknown>[],
  reports: Pick<ChoiceInput, 'galera' | 'replicas'>,
): Promise<SelectedSource> {
  let chosen: SourceChoice | undefined;
  try {
    chosen = chooseSource({
      clusterName: input.clusterName,
      topology: input.topology,
      target: input.target,
      allowUnsafe: input.allowUnsafe,
      instances: input.instances,
      ...(input.maxLagSeconds === undefined ? {} : { maxLagSeconds: input.maxLagSeconds }),
      ...(input.busy ? { busy: input.busy } : {}),
      ...reports,
    });
    const open = probes.find((p) => p.observed.instance.name === chosen?.instance.name)?.connection;
    const connection = open ?? (await connector(input)(chosen.instance, input.credentials, input.connect));
    input.logger?.info(
      { instance: chosen.instance.name, why: chosen.why, desync: chosen.desync, waived: chosen.waived },
      'backup source chosen',
    );
    return { ...chosen, connection };
  } finally {
    const others = probes.filter((p) => p.observed.instance.name !== chosen?.instance.name);
    await Promise.all(others.map((p) => p.connection?.close()));
  }
}

function connector(input: SelectionInput): NonNullable<SelectionInput['connector']> {
  return input.connector ?? connectInstance;
}

function probeEach<S>(input: SelectionInput, read: (conn: SqlConnection) => Promise<S>): Promise<Probe<S>[]> {
  return Promise.all(input.instances.map((instance) => probe(input, instance, read)));
}

async function probe<S>(
  input: SelectionInput,
  instance: DbInstance,
  read: (conn: SqlConnection) => Promise<S>,
): Promise<Probe<S>> {
  let connection: SqlConnection;
  try {
    connection = await connector(input)(instance, input.credentials, input.connect);
  } catch (err) {
    const unreachable = err instanceof Error ? err.message : String(err);
    if (!(err instanceof ConnectionFailedError)) return { observed: { instance, unreachable } };
    return { observed: { instance, unreachable, failure: err, accessDenied: isAccessDenied(err.cause) } };
  }
  try {
    return { observed: { instance, status: await read(connection) }, connection };
  } catch (err) {
    await connection.close();
    const why = err instanceof Error ? err.message : String(err);
    return { observed: { instance, unreachable: `status query failed: ${why}` } };
  }
}

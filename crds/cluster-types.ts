// Cluster: a database Lifeboat protects. Lifeboat does not run it; the Cluster says how to reach it
// and how to protect it.
import { Type } from '@sinclair/typebox';
import { BACKUP_METHODS, ENGINES, TOPOLOGIES } from './api-constants.js';
import { ObjectStore } from './object-store-types.js';
import { Recovery } from './recovery-types.js';
import { restoreStatusFields } from './restore-types.js';
import {
  Bool,
  Conditions,
  Duration,
  Int,
  LabelSelector,
  LocalRef,
  Port,
  SecretKeyRef,
  Str,
  StringEnum,
  Strict,
} from './schema-helpers.js';

const StaticInstance = Strict(
  {
    name: Str({ description: 'Instance name; a Backup may name it in spec.target.', minLength: 1, maxLength: 253 }),
    host: Str({ description: 'Host name or IP address of the instance.', minLength: 1, maxLength: 253 }),
    port: Type.Optional(Port('TCP port of the instance; 3306 when absent.')),
  },
  { description: 'One database instance, reached at host:port.' },
);

const Instances = Strict(
  {
    selector: Type.Optional(LabelSelector),
    port: Type.Optional(Port('With selector: the TCP port of the database in each pod; 3306 when absent.')),
    static: Type.Optional(
      Type.Array(StaticInstance, {
        description:
          'A fixed list of instances, for databases outside Kubernetes and for tests. The first is the writer.',
        minItems: 1,
        maxItems: 64,
      }),
    ),
  },
  {
    description:
      'How to find the members of the database: selector (pods, resolved through the API) or static, not both.',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.selector) != has(self.static)',
        message: 'LB701: set exactly one of instances.selector or instances.static',
      },
    ],
  },
);

const DatabaseCredentials = Strict(
  {
    secretRef: LocalRef('The Secret, in the same namespace, holding the database account Lifeboat uses.'),
    usernameKey: Type.Optional(
      Str({ description: 'Key of the user name in the Secret; "username" when absent.', maxLength: 253 }),
    ),
    passwordKey: Type.Optional(
      Str({ description: 'Key of the password in the Secret; "password" when absent.', maxLength: 253 }),
    ),
    tls: Type.Optional(
      Strict(
        {
          caSecretRef: Type.Optional(
            SecretKeyRef('A Secret key holding the PEM CA bundle that signs the server certificate.'),
          ),
          clientCertSecretRef: Type.Optional(
            LocalRef('A kubernetes.io/tls Secret with the client certificate and key, for X.509 authentication.'),
          ),
          insecureSkipVerify: Type.Optional(
            Bool({ description: 'Encrypt but do not verify the server certificate. For tests only.' }),
          ),
        },
        { description: 'Connect to the database over TLS.' },
      ),
    ),
  },
  { description: 'The database account Lifeboat connects with.' },
);

const Retention = Strict(
  {
    keep: Type.Optional(Int({ description: 'Number of completed backups to keep (at least 1).' })),
    maxAge: Type.Optional(
      Duration({
        description: 'Remove completed backups older than this, e.g. 30d. The newest completed backup is always kept.',
      }),
    ),
  },
  { description: 'Which completed backups to keep; older ones are removed from the object store and the API.' },
);

const BinlogArchive = Strict(
  {
    enabled: Bool({
      description:
        'Archive binary logs to the object store, which point-in-time recovery needs. Not available yet: this version archives none (policy LB508 warns).',
    }),
    interval: Type.Optional(
      Duration({ description: 'How often binary logs are shipped, e.g. 5m; bounds the data lost in a disaster.' }),
    ),
  },
  { description: 'Continuous archiving of binary logs for point-in-time recovery (not available yet).' },
);

const ClusterBackup = Strict(
  {
    objectStore: Type.Optional(ObjectStore),
    method: Type.Optional(
      StringEnum(BACKUP_METHODS, {
        description: 'Default method for Backups of this Cluster; chosen from the engine when absent.',
      }),
    ),
    target: Type.Optional(
      Str({
        description: 'Default target for Backups of this Cluster: prefer-standby, primary or an instance name.',
        maxLength: 253,
      }),
    ),
    retention: Type.Optional(Retention),
    binlogArchive: Type.Optional(BinlogArchive),
    rpo: Type.Optional(
      Duration({
        description:
          'Recovery point objective, e.g. 26h: the Cluster reports BackupStale when the newest completed backup is older.',
      }),
    ),
  },
  { description: 'How this Cluster is backed up; Backups that say nothing else inherit these settings.' },
);

const ExternalCluster = Strict(
  {
    name: Str({
      description: 'Name of the source cluster: the key prefix its backups live under in the object store.',
      minLength: 1,
      maxLength: 253,
    }),
    objectStore: Type.Optional(ObjectStore),
  },
  { description: 'Another cluster whose backups this Cluster can be restored from.' },
);

export const ClusterSpec = Strict(
  {
    engine: StringEnum(ENGINES, { description: 'Database engine.' }),
    version: Type.Optional(
      Str({
        description:
          'Server version, e.g. 10.11; used to check the backup method. Assumed a supported release when absent.',
        maxLength: 64,
      }),
    ),
    topology: StringEnum(TOPOLOGIES, {
      description: 'How the instances relate: one server, primary and replicas, or a Galera cluster.',
    }),
    instances: Instances,
    credentials: DatabaseCredentials,
    backup: Type.Optional(ClusterBackup),
    bootstrap: Type.Optional(
      Strict(
        { recovery: Type.Optional(Recovery) },
        { description: 'How the database is first filled: restored once, while it is still empty.' },
      ),
    ),
    externalClusters: Type.Optional(
      Type.Array(ExternalCluster, {
        description: 'Clusters whose object stores this Cluster may restore from.',
        maxItems: 32,
      }),
    ),
  },
  { description: 'The database Lifeboat protects and how.' },
);

export const ClusterStatus = Strict(
  {
    lastSuccessfulBackup: Type.Optional(Str({ description: 'Name of the newest completed Backup.', maxLength: 253 })),
    lastSuccessfulBackupTime: Type.Optional(
      Str({ description: 'When the newest completed Backup finished.', format: 'date-time' }),
    ),
    lastFailedBackup: Type.Optional(Str({ description: 'Name of the newest failed Backup.', maxLength: 253 })),
    firstRecoverabilityPoint: Type.Optional(
      Str({ description: 'Earliest time the Cluster can be restored to.', format: 'date-time' }),
    ),
    bootstrap: Type.Optional(
      Strict(restoreStatusFields, { description: 'The restore of spec.bootstrap.recovery: run once, while empty.' }),
    ),
    conditions: Type.Optional(Conditions()),
  },
  { description: 'What Lifeboat last observed of this Cluster.' },
);

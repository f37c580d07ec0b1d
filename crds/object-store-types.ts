// The ObjectStore: one shape wherever a bucket is named (Cluster, Backup, externalClusters).
import { Type, type Static } from '@sinclair/typebox';
import { Bool, Int, SecretKeyRef, Str, StringEnum, Strict } from './schema-helpers.js';

const ObjectStoreTLS = Strict(
  {
    caBundle: Type.Optional(
      Str({
        description: 'PEM-encoded CA certificates that sign the endpoint certificate. Exclusive with caSecretRef.',
        maxLength: 65536,
      }),
    ),
    caSecretRef: Type.Optional(
      SecretKeyRef('A Secret key holding the PEM-encoded CA bundle. Exclusive with caBundle.'),
    ),
    insecureSkipVerify: Type.Optional(
      Bool({
        description:
          'Skip verification of the endpoint certificate. For tests only: anyone on the path can read the backups.',
      }),
    ),
  },
  { description: 'How to trust the endpoint over HTTPS.' },
);

const ServerSideEncryption = Strict(
  {
    type: StringEnum(['AES256', 'aws:kms'] as const, { description: 'Encryption applied by the object store.' }),
    kmsKeyID: Type.Optional(Str({ description: 'KMS key ID or ARN; required with aws:kms, not allowed otherwise.' })),
  },
  { description: 'Server-side encryption requested for every object Lifeboat writes.' },
);

const ObjectLock = Strict(
  {
    mode: StringEnum(['GOVERNANCE', 'COMPLIANCE'] as const, { description: 'S3 Object Lock retention mode.' }),
    days: Int({
      description:
        "Days a backup's archive and metadata.json stay locked, counted from the start of the backup; retention leaves them until then.",
      minimum: 1,
      maximum: 36500,
    }),
  },
  {
    description:
      'Write-once retention for backup objects; the bucket must have Object Lock enabled (checked before each backup starts).',
  },
);

const ObjectStoreCredentials = Strict(
  {
    accessKeyId: SecretKeyRef('The Secret key holding the access key ID.'),
    secretAccessKey: SecretKeyRef('The Secret key holding the secret access key.'),
    sessionToken: Type.Optional(SecretKeyRef('The Secret key holding a session token, for temporary credentials.')),
  },
  { description: 'Static credentials read from a Secret in the same namespace. Exclusive with inheritFromIAMRole.' },
);

export const ObjectStore = Strict(
  {
    bucket: Str({
      description: 'Bucket name (3-63 characters: lowercase letters, digits, dots, hyphens).',
      minLength: 1,
      maxLength: 63,
    }),
    path: Type.Optional(
      Str({
        description:
          'Key prefix inside the bucket; backups go under <path>/<cluster>/. Letters, digits and / ! _ . * \' ( ) - only; no leading, trailing or double "/", no "." or ".." segments.',
        maxLength: 512,
      }),
    ),
    endpoint: Type.Optional(
      Str({
        description: 'Endpoint URL of an S3-compatible store, e.g. https://minio.example:9000. Empty means AWS S3.',
        maxLength: 2048,
      }),
    ),
    region: Type.Optional(Str({ description: 'Region of the bucket, e.g. eu-west-1.', maxLength: 64 })),
    forcePathStyle: Type.Optional(
      Bool({
        description:
          'Address the bucket as <endpoint>/<bucket> instead of <bucket>.<endpoint>; most S3-compatible stores need it.',
      }),
    ),
    signatureVersion: Type.Optional(
      StringEnum(['v4', 'v2'] as const, {
        description:
          'Request signing version. Lifeboat signs with v4 (which MinIO and S3 accept); v2 is refused at admission (policy LB209).',
      }),
    ),
    tls: Type.Optional(ObjectStoreTLS),
    insecure: Type.Optional(
      Bool({
        description: 'Allow a plain http:// endpoint. Backups and credentials then cross the network unencrypted.',
      }),
    ),
    serverSideEncryption: Type.Optional(ServerSideEncryption),
    storageClass: Type.Optional(Str({ description: 'Storage class of the objects, e.g. STANDARD_IA.', maxLength: 64 })),
    objectLock: Type.Optional(ObjectLock),
    credentials: Type.Optional(ObjectStoreCredentials),
    inheritFromIAMRole: Type.Optional(
      Bool({
        description:
          'Use the credentials of the environment (IAM role, IRSA, instance profile). Exclusive with credentials.',
      }),
    ),
  },
  { description: 'Where backups are stored: an S3 or S3-compatible bucket and how to reach it.' },
);

export type ObjectStoreSpec = Static<typeof ObjectStore>;

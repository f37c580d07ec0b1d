// The environment a worker in a Job reads its credentials from: the Job builder sets these names
// from the Secrets (secretKeyRef), the worker reads them. Defined here, on the worker's side, so the
// executors depend on the worker and not the other way round.

/** The environment variables the worker reads its credentials from in a Job. */
export const WORKER_ENV = {
  dbUsername: 'LIFEBOAT_DB_USERNAME',
  dbPassword: 'LIFEBOAT_DB_PASSWORD',
  // spec.credentials.tls: the CA bundle and the client certificate's tls.crt and tls.key.
  dbTlsCa: 'LIFEBOAT_DB_TLS_CA',
  dbTlsCert: 'LIFEBOAT_DB_TLS_CERT',
  dbTlsKey: 'LIFEBOAT_DB_TLS_KEY',
  // Not AWS_*: the SDK's default chain reads those, and would use them for inheritFromIAMRole too.
  s3AccessKeyId: 'LIFEBOAT_S3_ACCESS_KEY_ID',
  s3SecretAccessKey: 'LIFEBOAT_S3_SECRET_ACCESS_KEY',
  s3SessionToken: 'LIFEBOAT_S3_SESSION_TOKEN',
} as const;

/** The keys of a kubernetes.io/tls Secret, as spec.credentials.tls.clientCertSecretRef names one. */
export const TLS_SECRET_KEYS = { cert: 'tls.crt', key: 'tls.key' } as const;

// The environment a worker in a Job reads its credentials from: the Job builder sets these names
// from the Secrets (secretKeyRef), the worker reads them. Defined here, on the worker's side, so the
// executors depend on the worker and not the other way round.

/** The environment variables the worker reads its credentials from in a Job. */
export const WORKER_ENV = {
  dbUsername: 'LIFEBOAT_DB_USERNAME',
  dbPassword: 'LIFEBOAT_DB_PASSWORD',
  // Not AWS_*: the SDK's default chain reads those, and would use them for inheritFromIAMRole too.
  s3AccessKeyId: 'LIFEBOAT_S3_ACCESS_KEY_ID',
  s3SecretAccessKey: 'LIFEBOAT_S3_SECRET_ACCESS_KEY',
  s3SessionToken: 'LIFEBOAT_S3_SESSION_TOKEN',
} as const;

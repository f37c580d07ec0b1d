// The stack itself, as later features will use it: MinIO through the AWS SDK, MariaDB and a
// synced 3-node Galera cluster through mysql2, with the account stack.env names.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { requireVar } from './support/stack.js';

function s3(): S3Client {
  return new S3Client({
    endpoint: requireVar('S3_ENDPOINT', 'MinIO'),
    region: requireVar('S3_REGION', 'MinIO'),
    forcePathStyle: true,
    credentials: {
      accessKeyId: requireVar('S3_ACCESS_KEY', 'MinIO'),
      secretAccessKey: requireVar('S3_SECRET_KEY', 'MinIO'),
    },
  });
}

/** Runs one query on the server at `port` with the stack's backup account, over TCP. */
async function query(port: number, sql: string, values: unknown[] = []): Promise<RowDataPacket[]> {
  const conn = await createConnection({
    host: '127.0.0.1',
    port,
    user: requireVar('MARIADB_USER', 'MariaDB'),
    password: requireVar('MARIADB_PASSWORD', 'MariaDB'),
  });
  try {
    const [rows] = await conn.query<RowDataPacket[]>(sql, values);
    return rows;
  } finally {
    await conn.end();
  }
}

async function status(port: number, names: string[]): Promise<Record<string, string>> {
  const rows = await query(port, 'SHOW GLOBAL STATUS WHERE Variable_name IN (?)', [names]);
  return Object.fromEntries(rows.map((r) => [String(r['Variable_name']), String(r['Value'])]));
}

describe('the test stack', () => {
  it('MinIO stores an object through the AWS SDK and returns it byte for byte', async () => {
    const client = s3();
    const Bucket = requireVar('S3_BUCKET', 'MinIO');
    const Key = `e2e/stack-${randomBytes(4).toString('hex')}.bin`;
    const body = randomBytes(256 * 1024);
    try {
      await client.send(new PutObjectCommand({ Bucket, Key, Body: body }));
      const got = await client.send(new GetObjectCommand({ Bucket, Key }));
      const bytes = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), createHash('sha256').update(body).digest('hex'));
    } finally {
      await client.send(new DeleteObjectCommand({ Bucket, Key }));
      client.destroy();
    }
  });

  it('the standalone MariaDB answers over TCP with binary logging on', async () => {
    const rows = await query(
      Number(requireVar('MARIADB_PORT', 'MariaDB')),
      'SELECT @@version AS version, @@log_bin AS logBin',
    );
    assert.match(String(rows[0]?.['version']), /^10\.11\./);
    assert.equal(Number(rows[0]?.['logBin']), 1);
  });

  it('Galera: three members, each Synced in a Primary component of size 3', async () => {
    const ports = requireVar('GALERA_PORTS', 'Galera').split(' ').map(Number);
    assert.equal(ports.length, 3);
    for (const port of ports) {
      const s = await status(port, [
        'wsrep_local_state_comment',
        'wsrep_cluster_size',
        'wsrep_cluster_status',
        'wsrep_ready',
      ]);
      assert.deepEqual(
        s,
        {
          wsrep_cluster_size: '3',
          wsrep_cluster_status: 'Primary',
          wsrep_local_state_comment: 'Synced',
          wsrep_ready: 'ON',
        },
        `node on port ${port}`,
      );
    }
  });
});

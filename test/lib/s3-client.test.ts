// The one S3 client factory: how an ObjectStore spec becomes SDK configuration, how its Secret
// references resolve, and how S3 failures are put into words. No network.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Agent } from 'node:https';
import { Readable } from 'node:stream';
import { CompleteMultipartUploadCommand, PutObjectCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import {
  clientEndpoint,
  crc32Base64,
  createS3Client,
  encryptionParams,
  explainS3Error,
  partChecksumAlgorithm,
  s3FailureInShort,
  resolveS3Access,
  s3ClientConfig,
  S3ConfigError,
  type ReadSecretKey,
} from '../../lib/s3-client.js';

const minio: ObjectStoreSpec = {
  bucket: 'lifeboat',
  endpoint: 'https://minio.example:9000',
  forcePathStyle: true,
};
/** The same store over plain http. */
const minioOverHttp: ObjectStoreSpec = { ...minio, endpoint: 'http://127.0.0.1:9000', insecure: true };
const keys = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG' };

function agentOf(store: ObjectStoreSpec, caBundle?: string): Agent {
  const handler = s3ClientConfig(store, { credentials: keys, caBundle }).requestHandler as { httpsAgent: Agent };
  return handler.httpsAgent;
}

describe('S3 client factory', () => {
  it('maps endpoint, region (default us-east-1) and path style', async () => {
    const config = s3ClientConfig(minio, { credentials: keys });
    assert.equal(config.endpoint, 'https://minio.example:9000');
    assert.equal(config.region, 'us-east-1');
    assert.equal(config.forcePathStyle, true);
    assert.equal(s3ClientConfig({ ...minio, region: 'eu-west-1' }, { credentials: keys }).region, 'eu-west-1');
    const client = createS3Client(minio, { credentials: keys });
    try {
      assert.equal(await clientEndpoint(client), 'https://minio.example:9000');
      const creds = await client.config.credentials();
      assert.deepEqual(
        [creds.accessKeyId, creds.secretAccessKey, creds.sessionToken],
        [keys.accessKeyId, keys.secretAccessKey, undefined],
      );
    } finally {
      client.destroy();
    }
  });

  it('an empty endpoint means AWS S3, with the SDK default checksums and virtual-hosted style', async () => {
    const config = s3ClientConfig({ bucket: 'b', region: 'eu-west-1', inheritFromIAMRole: true });
    assert.equal(config.endpoint, undefined);
    assert.equal(config.requestChecksumCalculation, undefined);
    assert.equal(config.forcePathStyle, false);
    const client = createS3Client({ bucket: 'b', endpoint: ' ', region: 'eu-west-1', inheritFromIAMRole: true });
    try {
      assert.equal(await clientEndpoint(client), 'AWS S3 (eu-west-1)');
    } finally {
      client.destroy();
    }
  });

  it('refuses http:// unless insecure is set, and says how to fix it', () => {
    const http = { ...minio, endpoint: 'http://127.0.0.1:9000' };
    assert.throws(
      () => createS3Client(http, { credentials: keys }),
      (err: unknown) =>
        err instanceof S3ConfigError && /plain http; use https:\/\/, or set insecure: true/.test(err.message),
    );
    const client = createS3Client({ ...http, insecure: true }, { credentials: keys });
    client.destroy();
    assert.throws(() => createS3Client({ ...minio, endpoint: 'ftp://x' }), /uses ftp:/);
    assert.throws(() => createS3Client({ ...minio, endpoint: 'minio:9000' }), S3ConfigError);
  });

  it('refuses signatureVersion v2: the AWS SDK v3 signs only with v4', () => {
    assert.throws(
      () => createS3Client({ ...minio, signatureVersion: 'v2' }, { credentials: keys }),
      /v2 is not supported/,
    );
    createS3Client({ ...minio, signatureVersion: 'v4' }, { credentials: keys }).destroy();
  });

  it('refuses a store that names credentials when none were resolved', () => {
    const withCreds: ObjectStoreSpec = {
      ...minio,
      credentials: { accessKeyId: { name: 's', key: 'a' }, secretAccessKey: { name: 's', key: 'b' } },
    };
    assert.throws(() => createS3Client(withCreds), /none were resolved/);
  });

  it('TLS: caBundle (inline or from its Secret) and insecureSkipVerify reach the https agent', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    assert.equal(agentOf({ ...minio, tls: { caBundle: pem } }).options.ca, pem);
    assert.equal(agentOf(minio, pem).options.ca, pem);
    assert.equal(agentOf(minio).options.ca, undefined);
    assert.equal(agentOf(minio).options.rejectUnauthorized, true);
    assert.equal(agentOf({ ...minio, tls: { insecureSkipVerify: true } }).options.rejectUnauthorized, false);
  });

  it('without static credentials the SDK default chain is used (here: the environment)', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'AKIDFROMENV';
    process.env.AWS_SECRET_ACCESS_KEY = 'from-env';
    const client = createS3Client({ bucket: 'b', region: 'eu-west-1', inheritFromIAMRole: true });
    try {
      const creds = await client.config.credentials();
      assert.equal(creds.accessKeyId, 'AKIDFROMENV');
    } finally {
      client.destroy();
      restoreEnv('AWS_ACCESS_KEY_ID', saved.id);
      restoreEnv('AWS_SECRET_ACCESS_KEY', saved.secret);
    }
  });

  /** The headers of the one request `send` makes, captured instead of sent. */
  async function headersSent(
    store: ObjectStoreSpec,
    send: (client: S3Client) => Promise<unknown>,
  ): Promise<Record<string, string>> {
    const client = createS3Client(store, { credentials: keys });
    let headers: Record<string, string> = {};
    client.config.requestHandler = {
      handle: async (request: { headers: Record<string, string> }) => {
        headers = request.headers;
        return { response: { statusCode: 200, headers: { etag: '"e"' }, body: Readable.from([]) } };
      },
    } as unknown as typeof client.config.requestHandler;
    try {
      await send(client);
    } finally {
      client.destroy();
    }
    return headers;
  }

  /** One archive part of `body`, with the checksum given. */
  const uploadPart = (
    body: Buffer,
    checksum: { ChecksumSHA256: string } | { ChecksumCRC32: string },
  ): UploadPartCommand =>
    new UploadPartCommand({ Bucket: 'lifeboat', Key: 'k', UploadId: 'u', PartNumber: 1, Body: body, ...checksum });

  it('signs the body hash over plain http, UNSIGNED-PAYLOAD over TLS (capturing request handler)', async () => {
    const body = Buffer.from('archive bytes');
    const bodyHash = createHash('sha256').update(body).digest('hex');
    const sent = (store: ObjectStoreSpec): Promise<Record<string, string>> =>
      headersSent(store, (c) => c.send(new PutObjectCommand({ Bucket: 'lifeboat', Key: 'k', Body: body })));
    const http = await sent(minioOverHttp);
    assert.equal(http['x-amz-content-sha256'], bodyHash);
    const tls = await sent(minio);
    assert.equal(tls['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
    assert.match(tls['authorization'] ?? '', /SignedHeaders=[^,]*x-amz-content-sha256/, 'the header is signed');
    const aws = await sent({ bucket: 'lifeboat', region: 'eu-west-1' });
    assert.equal(aws['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
  });

  it('over plain http a declared ChecksumSHA256 is the signed body hash, not hashed again (capturing request handler)', async () => {
    const body = Buffer.from('archive part');
    // A digest that is not the body's: were the signer hashing the body itself, the header would differ.
    const declared = createHash('sha256').update('another body').digest();
    const http = minioOverHttp;
    const checksum = declared.toString('base64');
    const part = uploadPart(body, { ChecksumSHA256: checksum });
    const put = new PutObjectCommand({ Bucket: 'lifeboat', Key: 'k', Body: body, ChecksumSHA256: checksum });
    for (const send of [(c: S3Client) => c.send(part), (c: S3Client) => c.send(put)]) {
      const headers = await headersSent(http, send);
      assert.equal(headers['x-amz-content-sha256'], declared.toString('hex'));
      assert.equal(headers['x-amz-checksum-sha256'], checksum);
      assert.match(headers['authorization'] ?? '', /SignedHeaders=[^,]*x-amz-content-sha256/, 'the header is signed');
    }
    assert.equal(
      (await headersSent(minio, (c) => c.send(put)))['x-amz-content-sha256'],
      'UNSIGNED-PAYLOAD',
      'over TLS nothing changes',
    );
  });

  it('over plain http an archive part that declares a CRC32 is signed by its body hash, UNSIGNED-PAYLOAD over TLS (capturing request handler)', async () => {
    // A CRC32 catches damage, not a change made on the way: over http the signed hash must stay.
    const body = Buffer.from('archive part');
    const http = minioOverHttp;
    const part = uploadPart(body, { ChecksumCRC32: crc32Base64(body) });
    const headers = await headersSent(http, (c) => c.send(part));
    assert.equal(headers['x-amz-content-sha256'], createHash('sha256').update(body).digest('hex'));
    assert.equal(headers['x-amz-checksum-crc32'], crc32Base64(body));
    assert.equal(headers['x-amz-checksum-sha256'], undefined, 'no second checksum added by the SDK');
    assert.match(headers['authorization'] ?? '', /SignedHeaders=[^,]*x-amz-checksum-crc32/, 'the CRC32 is signed');
    assert.equal((await headersSent(minio, (c) => c.send(part)))['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
  });

  it('over plain http a CompleteMultipartUpload naming the object’s SHA-256 signs its own body (capturing request handler)', async () => {
    const http = minioOverHttp;
    const objectSum = createHash('sha256').update('the whole object').digest('base64');
    const complete = new CompleteMultipartUploadCommand({
      Bucket: 'lifeboat',
      Key: 'k',
      UploadId: 'u',
      ChecksumSHA256: objectSum,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"e"', ChecksumSHA256: objectSum }] },
    });
    // The capturing handler answers with an empty body, which a CompleteMultipartUpload refuses.
    const headers = await headersSent(http, (c) => c.send(complete).catch(() => undefined));
    assert.ok(headers['x-amz-content-sha256'], 'the request was sent');
    assert.notEqual(headers['x-amz-content-sha256'], Buffer.from(objectSum, 'base64').toString('hex'));
    assert.notEqual(headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
  });

  it('archive parts carry a SHA-256 over plain http (the signed payload hash) and a CRC32 over TLS', () => {
    const http = createS3Client(minioOverHttp, { credentials: keys });
    const tls = createS3Client(minio, { credentials: keys });
    const aws = createS3Client({ bucket: 'lifeboat', region: 'eu-west-1' }, { credentials: keys });
    try {
      assert.deepEqual([http, tls, aws].map(partChecksumAlgorithm), ['SHA256', 'CRC32', 'CRC32']);
    } finally {
      for (const c of [http, tls, aws]) c.destroy();
    }
  });

  it('server-side encryption parameters', () => {
    assert.deepEqual(encryptionParams(undefined), {});
    assert.deepEqual(encryptionParams({ type: 'AES256' }), { ServerSideEncryption: 'AES256' });
    assert.deepEqual(encryptionParams({ type: 'aws:kms', kmsKeyID: 'k1' }), {
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'k1',
    });
  });
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

describe('resolving the object store Secrets (fake Secret reader)', () => {
  const store: ObjectStoreSpec = {
    ...minio,
    credentials: {
      accessKeyId: { name: 'minio-creds', key: 'access-key' },
      secretAccessKey: { name: 'minio-creds', key: 'secret-key' },
    },
    tls: { caSecretRef: { name: 'minio-ca', key: 'ca.crt' } },
  };
  const secrets: Record<string, Record<string, string>> = {
    'minio-creds': { 'access-key': 'AKID', 'secret-key': 'SECRET-VALUE', empty: '' },
    'minio-ca': { 'ca.crt': 'PEM' },
  };
  const read: ReadSecretKey = async (name, key) => {
    const value = secrets[name]?.[key];
    if (value === undefined) throw new Error(`secrets "${name}" not found`);
    return value;
  };

  it('reads keys and CA through the callback', async () => {
    assert.deepEqual(await resolveS3Access(store, read), {
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET-VALUE', sessionToken: undefined },
      caBundle: 'PEM',
    });
  });

  it('no credentials: nothing read, the default chain applies', async () => {
    const none = await resolveS3Access({ bucket: 'b', inheritFromIAMRole: true }, () => assert.fail('read a Secret'));
    assert.deepEqual(none, { credentials: undefined, caBundle: undefined });
  });

  it('a missing Secret or key names both, and never a value', async () => {
    const missing: ObjectStoreSpec = {
      ...store,
      credentials: { ...store.credentials!, secretAccessKey: { name: 'minio-creds', key: 'nope' } },
    };
    await assert.rejects(resolveS3Access(missing, read), (err: unknown) => {
      assert.ok(err instanceof S3ConfigError);
      assert.match(err.message, /key "nope" of Secret "minio-creds"/);
      assert.doesNotMatch(err.message, /AKID|SECRET-VALUE/);
      return true;
    });
    const empty: ObjectStoreSpec = {
      ...store,
      credentials: { ...store.credentials!, sessionToken: { name: 'minio-creds', key: 'empty' } },
    };
    await assert.rejects(
      resolveS3Access(empty, read),
      /key "empty" of Secret "minio-creds" \(the session token\) is empty/,
    );
  });
});

describe('explaining S3 failures', () => {
  const target = { bucket: 'lifeboat', endpoint: 'http://127.0.0.1:9000', key: 'p/x' };
  const s3Error = (name: string, status: number): Error =>
    Object.assign(new Error(`S3 said ${name}`), { name, $metadata: { httpStatusCode: status } });
  const sysError = (code: string): Error => Object.assign(new Error(`connect ${code}`), { code });

  const cases: ReadonlyArray<[string, unknown, RegExp, typeof target | Omit<typeof target, 'key'>]> = [
    [
      'NoSuchBucket',
      s3Error('NoSuchBucket', 404),
      /bucket 'lifeboat' not found at http:\/\/127\.0\.0\.1:9000; create it or fix spec\.objectStore\.bucket/,
      target,
    ],
    [
      '404 on HeadBucket',
      s3Error('NotFound', 404),
      /bucket 'lifeboat' not found/,
      { bucket: 'lifeboat', endpoint: target.endpoint },
    ],
    [
      'AccessDenied',
      s3Error('AccessDenied', 403),
      /access denied to bucket 'lifeboat' at .*fix the credentials/,
      target,
    ],
    ['403 on HeadBucket', s3Error('Forbidden', 403), /access denied/, target],
    ['InvalidAccessKeyId', s3Error('InvalidAccessKeyId', 403), /does not know the access key ID/, target],
    ['SignatureDoesNotMatch', s3Error('SignatureDoesNotMatch', 403), /secret access key does not belong/, target],
    ['wrong region', s3Error('PermanentRedirect', 301), /set spec\.objectStore\.region/, target],
    [
      'ECONNREFUSED',
      sysError('ECONNREFUSED'),
      /connection refused at http:\/\/127\.0\.0\.1:9000.*fix spec\.objectStore\.endpoint/,
      target,
    ],
    [
      'ECONNREFUSED in an AggregateError',
      new AggregateError([sysError('ECONNREFUSED')], ''),
      /connection refused/,
      target,
    ],
    ['ENOTFOUND in a cause', new Error('x', { cause: sysError('ENOTFOUND') }), /not found in DNS/, target],
    ['ECONNRESET', sysError('ECONNRESET'), /dropped the connection/, target],
    [
      'no credentials anywhere (the SDK raises before sending)',
      Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }),
      /^no credentials for http:\/\/127\.0\.0\.1:9000 were found.*LIFEBOAT_S3_ACCESS_KEY_ID and LIFEBOAT_S3_SECRET_ACCESS_KEY/,
      target,
    ],
    ['untrusted certificate', sysError('SELF_SIGNED_CERT_IN_CHAIN'), /tls\.caBundle/, target],
    [
      'https:// to a plain-http port',
      Object.assign(new Error('write EPROTO 40E7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'), {
        code: 'EPROTO',
      }),
      /^http:\/\/127\.0\.0\.1:9000 does not answer TLS there .*it serves plain http: use an http:\/\/ endpoint with insecure: true/,
      target,
    ],
    ['another TLS protocol error', sysError('EPROTO'), /tls\.caBundle/, target],
    [
      'a request cancelled by a stop',
      Object.assign(new Error('Request aborted'), { name: 'AbortError' }),
      /^the request to http:\/\/127\.0\.0\.1:9000 was cancelled: the work was stopped$/,
      target,
    ],
    [
      'anything else',
      s3Error('InvalidStorageClass', 400),
      /answered InvalidStorageClass \(HTTP 400\) for bucket 'lifeboat': S3 said/,
      target,
    ],
  ];
  for (const [what, err, want, where] of cases) {
    it(`${what}`, () => assert.match(explainS3Error(err, where), want));
  }

  describe('in short, without advice (a request that worked a moment ago)', () => {
    const short: ReadonlyArray<[unknown, string]> = [
      [sysError('ECONNREFUSED'), 'connection refused'],
      [new AggregateError([sysError('ECONNREFUSED')], ''), 'connection refused'],
      [new Error('x', { cause: sysError('EAI_AGAIN') }), 'host not found in DNS'],
      [sysError('ECONNRESET'), 'connection dropped'],
      [Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }), 'no answer in time'],
      [sysError('EHOSTUNREACH'), 'EHOSTUNREACH'],
      [s3Error('SlowDown', 503), 'HTTP 503 SlowDown'],
      [new Error('something odd'), 'something odd'],
    ];
    for (const [err, want] of short) {
      it(`${want}`, () => assert.equal(s3FailureInShort(err), want));
    }
  });
});

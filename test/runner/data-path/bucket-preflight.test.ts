// The preflight against an in-memory S3 (fake S3): what it sends and how each refusal reads.
import assert from 'node:assert/strict';
import { preflightBucket } from '../../../runner/data-path/bucket-preflight.js';
import { UploadFailedError } from '../../../runner/work-failures.js';
import { FakeS3, s3Error } from './fake-s3.js';

const PROBE = 'p/shop/shop-1/20261130T181500Z/.lifeboat-preflight';

async function failure(fake: FakeS3, bucket = 'lifeboat'): Promise<UploadFailedError> {
  try {
    await preflightBucket({ client: fake.client(), bucket, probeKey: PROBE });
  } catch (err) {
    assert.ok(err instanceof UploadFailedError, String(err));
    return err;
  }
  return assert.fail('expected the preflight to fail');
}

describe('bucket preflight (fake S3)', () => {
  it('a good bucket: HeadBucket, then the probe is written and deleted', async () => {
    const fake = new FakeS3();
    await preflightBucket({
      client: fake.client(),
      bucket: 'lifeboat',
      probeKey: PROBE,
      serverSideEncryption: { type: 'AES256' },
    });
    assert.deepEqual(fake.calls, ['HeadBucket', 'PutObject', 'DeleteObject']);
    assert.equal(fake.objects.size, 0, 'the probe is gone');
  });

  it('a missing bucket: create it or fix spec.objectStore.bucket', async () => {
    const err = await failure(new FakeS3(), 'nope');
    assert.match(
      err.message,
      /preflight \(checking the bucket\) failed: bucket 'nope' not found at http:\/\/fake-s3\.invalid:9000; create it or fix spec\.objectStore\.bucket/,
    );
  });

  it('403 on the bucket: fix the credentials', async () => {
    const fake = new FakeS3();
    fake.fault = (command) => (command === 'HeadBucket' ? s3Error('Forbidden', 403) : undefined);
    assert.match((await failure(fake)).message, /access denied to bucket 'lifeboat' at .*fix the credentials/);
  });

  it('a key that may read but not write: names the probe object', async () => {
    const fake = new FakeS3();
    fake.fault = (command) => (command === 'PutObject' ? s3Error('AccessDenied', 403) : undefined);
    const err = await failure(fake);
    assert.match(
      err.message,
      new RegExp(`\\(writing s3://lifeboat/${PROBE.replace(/\./g, '\\.')}\\) failed: access denied`),
    );
  });

  it('a key that may write but not delete fails too (retention deletes)', async () => {
    const fake = new FakeS3();
    fake.fault = (command) => (command === 'DeleteObject' ? s3Error('AccessDenied', 403) : undefined);
    assert.match((await failure(fake)).message, /\(deleting s3:\/\/lifeboat\/.*\) failed: access denied/);
  });

  it('nothing listening at the endpoint: fix spec.objectStore.endpoint', async () => {
    const fake = new FakeS3();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    fake.fault = () => refused;
    const err = await failure(fake);
    assert.match(err.message, /connection refused at http:\/\/fake-s3\.invalid:9000.*fix spec\.objectStore\.endpoint/);
    assert.equal(err.cause, refused);
  });

  it('objectLock on a bucket without Object Lock: a failure naming the bucket, before anything is written', async () => {
    const fake = new FakeS3();
    const objectLock = { mode: 'GOVERNANCE', days: 1 } as const;
    const err = await preflightBucket({ client: fake.client(), bucket: 'lifeboat', probeKey: PROBE, objectLock }).then(
      () => assert.fail('expected the preflight to fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof UploadFailedError, String(err));
    assert.match(
      err.message,
      /bucket 'lifeboat' at http:\/\/fake-s3\.invalid:9000 does not have Object Lock enabled.*objectLock/,
    );
    assert.deepEqual(fake.calls, ['HeadBucket', 'GetObjectLockConfiguration']);
    fake.lockEnabled.add('lifeboat');
    await preflightBucket({ client: fake.client(), bucket: 'lifeboat', probeKey: PROBE, objectLock });
  });
});

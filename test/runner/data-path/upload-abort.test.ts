// Aborting multipart uploads against an in-memory S3 (fake S3): exactly the uploads of one key,
// over several list pages, through a short outage, and a clear sentence when it cannot be done.
import assert from 'node:assert/strict';
import { abortOpenUploads, abortUpload } from '../../../runner/data-path/upload-abort.js';
import { FakeS3, s3Error } from './fake-s3.js';

const KEY = 'prod/shop/nightly/20261130T181500Z/backup.xbstream';

function openUpload(fake: FakeS3, key: string): string {
  const uploadId = `upload-${fake.uploads.size + 100}`;
  fake.uploads.set(uploadId, { key: `lifeboat/${key}`, input: {}, parts: new Map([[1, Buffer.from('part')]]) });
  return uploadId;
}

describe('abortOpenUploads (fake S3)', () => {
  it('aborts every unfinished upload of the key, and only of that key', async () => {
    const fake = new FakeS3();
    openUpload(fake, KEY);
    openUpload(fake, KEY);
    const other = openUpload(fake, `${KEY}.gz`);
    const result = await abortOpenUploads(fake.client(), { bucket: 'lifeboat', key: KEY }, { retryMs: 1 });
    assert.deepEqual(result, { aborted: 2 });
    assert.deepEqual([...fake.uploads.keys()], [other]);
  });

  it('follows the list pages', async () => {
    const fake = new FakeS3();
    fake.listPageSize = 2;
    for (let i = 0; i < 5; i++) openUpload(fake, KEY);
    const result = await abortOpenUploads(fake.client(), { bucket: 'lifeboat', key: KEY }, { retryMs: 1 });
    assert.equal(result.aborted, 5);
    assert.equal(fake.uploads.size, 0);
    assert.equal(fake.count('ListMultipartUploads'), 3);
  });

  it('finds nothing to do when no upload is open', async () => {
    const fake = new FakeS3();
    const result = await abortOpenUploads(fake.client(), { bucket: 'lifeboat', key: KEY }, { retryMs: 1 });
    assert.deepEqual(result, { aborted: 0 });
    assert.deepEqual(fake.calls, ['ListMultipartUploads']);
  });

  it('rides out a store that drops requests for a moment', async () => {
    const fake = new FakeS3();
    openUpload(fake, KEY);
    let failures = 2;
    fake.fault = () => (failures-- > 0 ? s3Error('ServiceUnavailable', 503) : undefined);
    const result = await abortOpenUploads(fake.client(), { bucket: 'lifeboat', key: KEY }, { retryMs: 1 });
    assert.deepEqual(result, { aborted: 1 });
    assert.equal(fake.uploads.size, 0);
  });

  it('says what may remain, and how to remove it, when the store stays away', async () => {
    const fake = new FakeS3();
    openUpload(fake, KEY);
    fake.fault = (command) => (command === 'AbortMultipartUpload' ? s3Error('AccessDenied', 403, 'denied') : undefined);
    const result = await abortOpenUploads(fake.client(), { bucket: 'lifeboat', key: KEY }, { retryMs: 1, attempts: 2 });
    assert.equal(result.aborted, 0);
    assert.match(result.leftover ?? '', /the multipart upload upload-100 may remain \(aborting it failed: denied\)/);
    assert.match(result.leftover ?? '', /lifecycle rule AbortIncompleteMultipartUpload/);
    assert.equal(fake.count('AbortMultipartUpload'), 2);
  });

  it('says so when the uploads cannot even be listed', async () => {
    const fake = new FakeS3();
    fake.buckets.clear();
    const result = await abortOpenUploads(fake.client(), { bucket: 'lifeboat', key: KEY }, { retryMs: 1, attempts: 1 });
    assert.equal(result.aborted, 0);
    assert.match(result.leftover ?? '', new RegExp(`an unfinished upload of s3://lifeboat/${KEY} may remain`));
  });
});

describe('abortUpload (fake S3)', () => {
  it('counts an upload the store no longer knows as aborted', async () => {
    const fake = new FakeS3();
    const left = await abortUpload(fake.client(), { bucket: 'lifeboat', key: KEY, uploadId: 'gone' }, { retryMs: 1 });
    assert.equal(left, undefined);
    assert.equal(fake.count('AbortMultipartUpload'), 1);
  });
});

import assert from 'node:assert/strict';
import { bucketNameProblem, keyPrefixProblem } from '../../policies/object-store-policies.js';
import { backup, cluster, policiesOf, reviewWith } from '../helpers.js';

function withStore(objectStore: Record<string, unknown>): Record<string, unknown> {
  return cluster({ backup: { objectStore } });
}

describe('object store policies (fake neighbours)', () => {
  it('bucket names follow the S3 rules', () => {
    for (const ok of ['abc', 'my-backups.eu', 'a'.repeat(63), '0-backups'])
      assert.equal(bucketNameProblem(ok), undefined, ok);
    for (const bad of ['ab', 'a'.repeat(64), 'Upper', 'under_score', '-start', 'end-', 'two..dots', '192.168.1.1']) {
      assert.notEqual(bucketNameProblem(bad), undefined, bad);
    }
  });

  it('key prefixes are relative and clean', () => {
    for (const ok of ['prod', 'prod/eu-1', 'a.b/c']) assert.equal(keyPrefixProblem(ok), undefined, ok);
    for (const bad of ['/prod', 'prod/../x', '..', './x', 'a//b', 'a\\b'])
      assert.notEqual(keyPrefixProblem(bad), undefined, bad);
  });

  it('checks every store a Cluster holds, including externalClusters', () => {
    const doc = cluster({
      externalClusters: [{ name: 'old', objectStore: { bucket: 'Bad_Name', inheritFromIAMRole: true } }],
    });
    const result = reviewWith(doc);
    assert.deepEqual(policiesOf(result), ['LB202']);
    assert.deepEqual(result.findings[0]?.path, ['spec', 'externalClusters', 0, 'objectStore', 'bucket']);
  });

  it('LB204 wants exactly one way to authenticate', () => {
    const creds = { accessKeyId: { name: 's', key: 'a' }, secretAccessKey: { name: 's', key: 'b' } };
    assert.deepEqual(policiesOf(reviewWith(withStore({ bucket: 'bkt', credentials: creds }))), []);
    assert.deepEqual(policiesOf(reviewWith(withStore({ bucket: 'bkt' }))), ['LB204']);
    assert.deepEqual(
      policiesOf(reviewWith(withStore({ bucket: 'bkt', credentials: creds, inheritFromIAMRole: true }))),
      ['LB204'],
    );
    assert.deepEqual(
      policiesOf(reviewWith(withStore({ bucket: 'bkt', credentials: creds, inheritFromIAMRole: false }))),
      [],
    );
  });

  it('LB205 allows http only with insecure, and rejects what is not an http(s) URL', () => {
    const store = (endpoint: string, insecure?: boolean) =>
      withStore({ bucket: 'bkt', inheritFromIAMRole: true, endpoint, insecure });
    assert.deepEqual(policiesOf(reviewWith(store('https://s3.local:9000'))), []);
    assert.deepEqual(policiesOf(reviewWith(store('http://127.0.0.1:9000', true))), []);
    assert.deepEqual(policiesOf(reviewWith(store('http://127.0.0.1:9000'))), ['LB205']);
    assert.match(reviewWith(store('s3.local:9000')).findings[0]?.message ?? '', /uses s3.local:|not a URL/);
    assert.deepEqual(policiesOf(reviewWith(store('ftp://x'))), ['LB205']);
  });

  it('LB201 denies a Backup with no store of its own and none on its Cluster', () => {
    const bare = cluster({ backup: undefined });
    assert.deepEqual(policiesOf(reviewWith(backup(), { objects: [bare] })), ['LB201']);
    assert.deepEqual(
      policiesOf(reviewWith(backup({ objectStore: { bucket: 'bkt', inheritFromIAMRole: true } }), { objects: [bare] })),
      [],
    );
  });

  it('LB207 pairs kmsKeyID with aws:kms', () => {
    const sse = (serverSideEncryption: Record<string, unknown>) =>
      withStore({ bucket: 'bkt', inheritFromIAMRole: true, serverSideEncryption });
    assert.deepEqual(policiesOf(reviewWith(sse({ type: 'AES256' }))), []);
    assert.deepEqual(policiesOf(reviewWith(sse({ type: 'AES256', kmsKeyID: 'k' }))), ['LB207']);
    assert.deepEqual(policiesOf(reviewWith(sse({ type: 'aws:kms' }))), ['LB207']);
  });

  it('LB206 rejects a PEM block whose body is not a certificate', () => {
    const caBundle = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n';
    const result = reviewWith(withStore({ bucket: 'bkt', inheritFromIAMRole: true, tls: { caBundle } }));
    assert.deepEqual(policiesOf(result), ['LB206']);
    assert.match(result.findings[0]?.message ?? '', /certificate 1 of 1 is not valid PEM/);
  });
});

import assert from 'node:assert/strict';
import { decode } from '../../policies/schema-check.js';
import { backup, cluster } from '../helpers.js';

function messages(doc: unknown): string[] {
  const d = decode(doc);
  return d.type === 'invalid' ? d.findings.map((f) => `${f.policy} ${f.message}`) : [];
}

describe('schema check', () => {
  it('accepts a minimal valid object of each kind', () => {
    assert.equal(decode(cluster()).type, 'lifeboat');
    assert.equal(decode(backup()).type, 'lifeboat');
    const template = { cluster: { name: 'shop' } };
    const scheduled = {
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'ScheduledBackup',
      metadata: { name: 's' },
      spec: { schedule: '0 3 * * *', backupTemplate: template },
    };
    assert.equal(decode(scheduled).type, 'lifeboat');
    const restore = {
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'Restore',
      metadata: { name: 'r' },
      spec: { cluster: { name: 'shop' }, source: 'old' },
    };
    assert.equal(decode(restore).type, 'lifeboat');
  });

  it('accepts generateName in place of name, and wants one of them', () => {
    assert.equal(decode({ ...backup(), metadata: { generateName: 'shop-manual-' } }).type, 'lifeboat');
    assert.deepEqual(messages({ ...backup(), metadata: { namespace: 'x' } }), [
      'LB004 metadata: missing required field "name" (or generateName)',
    ]);
  });

  it('wants names the API server accepts, and Cluster names that fit a label value', () => {
    assert.match(
      messages({ ...backup(), metadata: { name: 'Nightly_Backup' } }).join(),
      /"Nightly_Backup" is not a valid name: use lowercase letters/,
    );
    assert.equal(decode(cluster({}, 'a'.repeat(63))).type, 'lifeboat');
    assert.match(messages(cluster({}, 'a'.repeat(64))).join(), /metadata.name: must NOT have more than 63 characters/);
    assert.match(
      messages(backup({ cluster: { name: 'a'.repeat(64) } })).join(),
      /spec.cluster.name: must NOT have more than 63 characters/,
    );
  });

  it('says to quote what YAML read as a number, and to write true or false for yes/no', () => {
    assert.deepEqual(messages(cluster({ version: 10.11 })), [
      'LB004 spec.version: must be a string, not a number; quote it ("10.11"), since YAML reads 10.11 unquoted as a number',
    ]);
    assert.deepEqual(messages(backup({ online: 'yes' })), [
      'LB004 spec.online: must be a boolean, not a string ("yes"); write true or false',
    ]);
  });

  it('names unknown fields with the allowed ones, deep in the spec', () => {
    const doc = cluster({ backup: { objectStore: { bucket: 'b', inheritFromIAMRole: true, bukket: 'x' } } });
    assert.deepEqual(messages(doc), [
      'LB004 spec.backup.objectStore.bukket: unknown field "bukket"; allowed here: bucket, path, endpoint, region, forcePathStyle, signatureVersion, tls, insecure, serverSideEncryption, storageClass, objectLock, credentials, inheritFromIAMRole',
    ]);
  });

  it('says which type a field wants and what it got', () => {
    assert.deepEqual(messages(cluster({ instances: { static: [{ name: 'a', host: 'h', port: '3306' }] } })), [
      'LB004 spec.instances.static[0].port: must be an integer, not a string',
    ]);
  });

  it('lists the allowed values of an enum', () => {
    assert.deepEqual(messages(cluster({ engine: 'postgres' })), [
      'LB004 spec.engine: "postgres" is not allowed; use one of: mariadb, mysql, percona-xtradb',
    ]);
  });

  it('explains durations and timestamps', () => {
    assert.match(
      messages(cluster({ backup: { objectStore: { bucket: 'b', inheritFromIAMRole: true }, rpo: '1 day' } })).join(),
      /duration such as 30d/,
    );
    const restore = {
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'Restore',
      metadata: { name: 'r' },
      spec: { cluster: { name: 'c' }, source: 's', recoveryTarget: { targetTime: 'yesterday' } },
    };
    assert.match(messages(restore).join(), /RFC 3339/);
  });

  it('refuses an unknown version or kind of the lifeboat.dev group', () => {
    assert.deepEqual(messages({ ...backup(), apiVersion: 'lifeboat.dev/v2' }), [
      'LB005 unknown version lifeboat.dev/v2; this Lifeboat serves lifeboat.dev/v1alpha1',
    ]);
    assert.match(
      messages({ ...backup(), kind: 'Snapshot' }).join(),
      /LB005 lifeboat.dev\/v1alpha1 has no kind "Snapshot"; use one of Cluster, Backup, ScheduledBackup, Restore/,
    );
    assert.deepEqual(messages({ apiVersion: 'lifeboat.dev/v1alpha1', metadata: { name: 'x' } }), [
      'LB005 kind is missing; use one of Cluster, Backup, ScheduledBackup, Restore',
    ]);
  });

  it('reports a document that is not an object', () => {
    assert.match(messages(['a', 'b']).join(), /LB003 this is a list, not an object/);
    assert.match(messages('just text').join(), /LB003 this is "just text", not an object/);
  });

  it('requires metadata.name', () => {
    assert.match(messages({ ...backup(), metadata: {} }).join(), /metadata: missing required field "name"/);
  });
});

// The object store the offline commands read, from flags or a Cluster manifest: what is taken
// from where, which flag wins, and the one line a user gets for each mistake.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../cmd/cli-options.js';
import { storeFromOptions, type StoreInputs, type StoreOptions } from '../../cmd/object-store-source.js';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';
import {
  ObjectStoreMissingError,
  SourceHasNoObjectStoreError,
  SourceNotFoundError,
} from '../../runner/work-failures.js';

const GALERA = readFileSync(join(PACKAGE_ROOT, 'crds', 'samples', '2-cluster-galera.yaml'), 'utf8');
const ENV = { LIFEBOAT_S3_ACCESS_KEY_ID: 'AKIDTEST', LIFEBOAT_S3_SECRET_ACCESS_KEY: 'very-secret-value' };

function manifest(text: string, env: NodeJS.ProcessEnv = ENV): StoreInputs {
  return { env, readManifest: () => text };
}

async function endpointOf(opts: StoreOptions, inputs: StoreInputs): Promise<string> {
  const { client } = await storeFromOptions(opts, inputs);
  const ep = await client.config.endpoint?.();
  return ep ? `${ep.protocol}//${ep.hostname}:${ep.port ?? ''}` : 'aws';
}

describe('object store from options', () => {
  it('flags: the bucket, prefix and endpoint given, credentials from the environment', async () => {
    const store = await storeFromOptions(
      {
        bucket: 'b',
        cluster: 'shop',
        path: 'x/y/',
        endpoint: 'http://127.0.0.1:9000',
        insecure: true,
        forcePathStyle: true,
      },
      { env: ENV },
    );
    assert.equal(store.where, 's3://b/x/y/shop/');
    assert.equal(store.cluster, 'shop');
    assert.equal(await store.client.config.forcePathStyle, true);
    const creds = await store.client.config.credentials();
    assert.equal(creds.accessKeyId, 'AKIDTEST');
    assert.equal(creds.secretAccessKey, 'very-secret-value');
  });

  it("a manifest: the Cluster's spec.backup.objectStore under its own name", async () => {
    const store = await storeFromOptions({ clusterManifest: 'c.yaml' }, manifest(GALERA));
    assert.equal(store.where, 's3://lifeboat/backups/orders/');
    assert.equal(await endpointOf({ clusterManifest: 'c.yaml' }, manifest(GALERA)), 'http://127.0.0.1:9000');
  });

  it("a manifest with --source: that externalClusters entry's store, under the source's name", async () => {
    const store = await storeFromOptions({ clusterManifest: '-', source: 'shop' }, manifest(GALERA));
    assert.equal(store.where, 's3://lifeboat/backups/shop/');
  });

  it('flags win over the manifest', async () => {
    const opts = { clusterManifest: 'c.yaml', endpoint: 'http://127.0.0.1:19000', path: 'dr', cluster: 'other' };
    const store = await storeFromOptions(opts, manifest(GALERA));
    assert.equal(store.where, 's3://lifeboat/dr/other/');
    assert.equal(await endpointOf(opts, manifest(GALERA)), 'http://127.0.0.1:19000');
  });

  const mistakes: Array<{
    name: string;
    opts: StoreOptions;
    inputs?: StoreInputs;
    error: abstract new (...args: never[]) => Error;
    message: RegExp;
  }> = [
    {
      name: 'no store named',
      opts: {},
      error: UsageError,
      message: /^name the object store: --bucket and --cluster .*or --cluster-manifest FILE$/,
    },
    {
      name: 'a bucket without --cluster',
      opts: { bucket: 'b' },
      error: UsageError,
      message: /--bucket and --cluster/,
    },
    {
      name: '--source without a manifest',
      opts: { bucket: 'b', cluster: 'c', source: 's' },
      error: UsageError,
      message: /^--source needs --cluster-manifest FILE$/,
    },
    {
      name: 'an http endpoint without --insecure',
      opts: { bucket: 'b', cluster: 'c', endpoint: 'http://127.0.0.1:9000' },
      error: UsageError,
      message: /is plain http.*\(on the command line: --endpoint, --insecure, --region\)$/,
    },
    {
      name: 'a path with ..',
      opts: { bucket: 'b', cluster: 'c', path: 'a/../b' },
      error: UsageError,
      message: /contains "\.\."; fix --path or --cluster$/,
    },
    {
      name: 'only the secret key in the environment',
      opts: { bucket: 'b', cluster: 'c' },
      inputs: { env: { LIFEBOAT_S3_SECRET_ACCESS_KEY: 'very-secret-value' } },
      error: UsageError,
      message: /^set both LIFEBOAT_S3_ACCESS_KEY_ID and LIFEBOAT_S3_SECRET_ACCESS_KEY, or neither/,
    },
    {
      name: 'an unreadable manifest',
      opts: { clusterManifest: 'missing.yaml' },
      inputs: {
        env: ENV,
        readManifest: () => {
          throw new Error('ENOENT: no such file');
        },
      },
      error: UsageError,
      message: /^cannot read --cluster-manifest missing\.yaml: ENOENT/,
    },
    {
      name: 'a manifest that is not YAML',
      opts: { clusterManifest: 'c.yaml' },
      inputs: manifest('a: [b'),
      error: UsageError,
      message: /^--cluster-manifest c\.yaml is not YAML: /,
    },
    {
      name: 'a manifest without a Cluster',
      opts: { clusterManifest: '-' },
      inputs: manifest('apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n'),
      error: UsageError,
      message: /^--cluster-manifest <stdin> holds 0 Lifeboat Clusters .*give a file with exactly one$/,
    },
    {
      name: 'a manifest with two Clusters',
      opts: { clusterManifest: 'c.yaml' },
      inputs: manifest(`${GALERA}\n---\n${GALERA}`),
      error: UsageError,
      message: /holds 2 Lifeboat Clusters/,
    },
    {
      name: 'an invalid Cluster',
      opts: { clusterManifest: 'c.yaml' },
      inputs: manifest(GALERA.replace('topology: galera', 'topology: ring')),
      error: UsageError,
      message: /^the Cluster in c\.yaml is not valid: \/spec\/topology must be equal to one of the allowed values/,
    },
    {
      name: 'a --source the Cluster does not have',
      opts: { clusterManifest: 'c.yaml', source: 'shoop' },
      inputs: manifest(GALERA),
      error: SourceNotFoundError,
      message: /^Cluster "orders" in c\.yaml has no externalClusters entry "shoop" \(it has "shop"\); fix --source$/,
    },
    {
      name: 'a --source without an objectStore',
      opts: { clusterManifest: 'c.yaml', source: 'shop' },
      inputs: manifest(GALERA.replace(/ {4}- name: shop\n(.|\n)*$/, '    - name: shop\n')),
      error: SourceHasNoObjectStoreError,
      message: /^externalClusters entry "shop" of Cluster "orders" in c\.yaml has no objectStore; add one$/,
    },
    {
      name: 'a Cluster without spec.backup.objectStore',
      opts: { clusterManifest: 'c.yaml' },
      inputs: manifest(GALERA.replace(/ {2}backup:\n(.|\n)*?(?= {2}externalClusters)/, '')),
      error: ObjectStoreMissingError,
      message: /^Cluster "orders" in c\.yaml has no spec\.backup\.objectStore; give --source NAME/,
    },
  ];
  for (const m of mistakes) {
    it(`${m.name}: ${m.error.name}, saying what to fix, no secret`, async () => {
      await assert.rejects(storeFromOptions(m.opts, m.inputs ?? { env: ENV }), (err: unknown) => {
        assert.ok(err instanceof m.error, String(err));
        assert.match((err as Error).message, m.message);
        assert.doesNotMatch((err as Error).message, /very-secret-value/);
        return true;
      });
    });
  }
});

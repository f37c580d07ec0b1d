// Credentials a Job's worker finds in its environment, and the Secret reads a process worker makes
// instead, with a fake API in memory.
import assert from 'node:assert/strict';
import type { Cluster } from '../../../crds/kinds.js';
import { WORKER_ENV } from '../../../runner/worker/worker-env.js';
import type { V1Pod } from '@kubernetes/client-node';
import {
  databaseCredentials,
  instancesOf,
  jobCredentials,
  type WorkerKube,
} from '../../../runner/worker/worker-inputs.js';
import { ConnectionFailedError, NoHealthySourceError } from '../../../runner/work-failures.js';
import { cluster, toObject } from '../../helpers.js';

const shop = toObject({ ...cluster(), metadata: { name: 'shop', namespace: 'shop' } }) as Cluster;

/** A fake API that holds Secrets, or refuses to read them as a Job's account would. */
function fakeKube(secrets: Record<string, Record<string, string>> | 'forbidden'): WorkerKube {
  const refuse = (): never => {
    throw new Error('secrets is forbidden');
  };
  return {
    readSecret: async (_ns, name) =>
      secrets === 'forbidden' ? refuse() : secrets[name] && { data: secrets[name], resourceVersion: '1' },
    getLifeboat: async () => undefined,
    patchLifeboatStatus: async () => undefined,
    createEvent: async () => undefined,
    listPods: async () => [],
  };
}

describe('backup inputs (fake API)', () => {
  it('a Job: database and S3 credentials from WORKER_ENV, no Secret read', async () => {
    const fromJob = jobCredentials({
      [WORKER_ENV.dbUsername]: 'lifeboat',
      [WORKER_ENV.dbPassword]: 'pw',
      [WORKER_ENV.s3AccessKeyId]: 'id',
      [WORKER_ENV.s3SecretAccessKey]: 'secret',
    });
    assert.deepEqual(fromJob, {
      db: { user: 'lifeboat', password: 'pw' },
      s3: { accessKeyId: 'id', secretAccessKey: 'secret' },
    });
    assert.deepEqual(await databaseCredentials(fakeKube('forbidden'), shop, fromJob), fromJob.db);
  });

  it('a process: nothing in the environment, so the Cluster’s Secret is read', async () => {
    assert.deepEqual(jobCredentials({ AWS_ACCESS_KEY_ID: 'not ours', PATH: '/bin' }), {});
    const kube = fakeKube({ 'shop-db': { username: 'lifeboat', password: 'pw' } });
    assert.deepEqual(await databaseCredentials(kube, shop), { user: 'lifeboat', password: 'pw' });
  });

  const withTls = (tls: NonNullable<Cluster['spec']['credentials']['tls']>): Cluster => ({
    ...shop,
    spec: { ...shop.spec, credentials: { ...shop.spec.credentials, tls } },
  });
  const tlsSpec = { caSecretRef: { name: 'db-ca', key: 'ca.crt' }, clientCertSecretRef: { name: 'db-client' } };

  it('spec.credentials.tls, a process: the CA and client certificate read from their Secrets, verification on', async () => {
    const kube = fakeKube({
      'shop-db': { username: 'lifeboat', password: 'pw' },
      'db-ca': { 'ca.crt': 'CA' },
      'db-client': { 'tls.crt': 'CERT', 'tls.key': 'KEY' },
    });
    assert.deepEqual(await databaseCredentials(kube, withTls(tlsSpec)), {
      user: 'lifeboat',
      password: 'pw',
      tls: { ca: 'CA', cert: 'CERT', key: 'KEY', verify: true, cluster: 'shop' },
    });
  });

  it('spec.credentials.tls, a Job: the PEM text from WORKER_ENV, insecureSkipVerify honoured, no Secret read', async () => {
    const fromJob = jobCredentials({
      [WORKER_ENV.dbUsername]: 'lifeboat',
      [WORKER_ENV.dbPassword]: 'pw',
      [WORKER_ENV.dbTlsCa]: 'CA',
    });
    const got = await databaseCredentials(
      fakeKube('forbidden'),
      withTls({ ...tlsSpec, insecureSkipVerify: true }),
      fromJob,
    );
    assert.deepEqual(got.tls, { ca: 'CA', verify: false, cluster: 'shop' });
  });

  it('spec.credentials.tls naming a missing Secret key: ConnectionFailed naming the field to fix', async () => {
    const kube = fakeKube({
      'shop-db': { username: 'lifeboat', password: 'pw' },
      'db-ca': { 'ca.crt': 'CA' },
      'db-client': {},
    });
    await assert.rejects(
      databaseCredentials(kube, withTls(tlsSpec)),
      (err) =>
        err instanceof ConnectionFailedError &&
        /^Secret db-client has no key tls\.crt; add it or fix spec\.credentials\.tls\.clientCertSecretRef of Cluster shop$/.test(
          err.message,
        ),
    );
  });

  it('a missing Secret or key: ConnectionFailed naming it and what to fix', async () => {
    await assert.rejects(
      databaseCredentials(fakeKube({}), shop),
      (err) =>
        err instanceof ConnectionFailedError &&
        err.message === 'Secret shop-db does not exist in namespace shop; fix spec.credentials of Cluster shop',
    );
    await assert.rejects(
      databaseCredentials(fakeKube({ 'shop-db': { username: 'lifeboat' } }), shop),
      (err) => err instanceof ConnectionFailedError && /^Secret shop-db has no key password; add it/.test(err.message),
    );
  });
});

describe('instancesOf: the pod selector (fake API)', () => {
  /** A fake API that records the selector it was asked for. */
  function recordingKube(): { kube: Pick<WorkerKube, 'listPods'>; asked: string[] } {
    const asked: string[] = [];
    return {
      asked,
      kube: {
        listPods: (_ns: string, selector: string) => {
          asked.push(String(selector));
          return Promise.resolve([
            { metadata: { name: 'db-0', labels: { app: 'db' } }, status: { podIP: '10.0.0.1' } } as V1Pod,
          ]);
        },
      } as Pick<WorkerKube, 'listPods'>,
    };
  }
  const selecting = (selector: NonNullable<Cluster['spec']['instances']['selector']>): Cluster => ({
    ...shop,
    spec: { ...shop.spec, instances: { selector } },
  });

  it('matchLabels and matchExpressions become one selector, keys sorted, values checked', async () => {
    const { kube, asked } = recordingKube();
    const got = await instancesOf(
      kube,
      selecting({
        matchLabels: { tier: 'db', app: 'shop' },
        matchExpressions: [
          { key: 'lifeboat.dev/role', operator: 'In', values: ['writer', 'replica'] },
          { key: 'canary', operator: 'DoesNotExist' },
        ],
      }),
    );
    assert.deepEqual(asked, ['app=shop,tier=db,lifeboat.dev/role in (writer,replica),!canary']);
    assert.equal(got[0]?.host, '10.0.0.1');
  });

  const injections: [string, NonNullable<Cluster['spec']['instances']['selector']>][] = [
    ['a value carrying another requirement', { matchLabels: { app: 'db,role!=writer' } }],
    ['a key carrying a set expression', { matchLabels: { 'app in (a,b),x': 'db' } }],
    ['an In value that closes the set', { matchExpressions: [{ key: 'app', operator: 'In', values: ['db),(x'] }] }],
    ['In without values', { matchExpressions: [{ key: 'app', operator: 'In', values: [] }] }],
    ['Exists with values', { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['x'] }] }],
    ['an empty selector (every pod of the namespace)', {}],
  ];
  for (const [title, selector] of injections) {
    it(`refused before any API call: ${title}`, async () => {
      const { kube, asked } = recordingKube();
      await assert.rejects(
        instancesOf(kube, selecting(selector)),
        (err: unknown) => err instanceof NoHealthySourceError && /spec\.instances\.selector/.test(err.message),
      );
      assert.deepEqual(asked, []);
    });
  }
});

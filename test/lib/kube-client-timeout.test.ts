// Every call of the full client is bounded: a fake API server that accepts a request and never
// answers makes the call fail after the client's timeout, naming the call, and the next call
// (answered) succeeds.
import assert from 'node:assert/strict';
import { KubeApiError } from '../../lib/kube-client.js';
import { FakeApiServer, json } from './fake-api-server.js';

describe('kube client timeout (fake API server that hangs)', () => {
  const api = new FakeApiServer();
  let url = '';
  let hang = true;

  before(async () => {
    api.on('GET /apis/lifeboat.dev/v1alpha1/namespaces/shop/clusters/shop', (_req, res) => {
      if (!hang) json(res, 200, { kind: 'Cluster', metadata: { name: 'shop' } });
    });
    api.on('PATCH /apis/admissionregistration.k8s.io', () => undefined);
    api.on('GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/lifeboat', (_req, res) =>
      json(res, 200, {
        metadata: { name: 'lifeboat', resourceVersion: '1' },
        webhooks: [{ name: 'w', clientConfig: {} }],
      }),
    );
    url = await api.listen();
  });

  after(() => api.stop());

  it('a lookup with no answer fails after timeoutMs with code 0, naming the call; the next one is answered', async () => {
    const { kubeClientFor } = await import('./fake-api-server.js');
    const kube = kubeClientFor(url, { timeoutMs: 200 });
    const started = Date.now();
    await assert.rejects(kube.getLifeboat('Cluster', 'shop', 'shop'), (err: unknown) => {
      assert.ok(err instanceof KubeApiError, String(err));
      assert.equal(err.code, 0);
      assert.match(
        err.message,
        /^get clusters\.lifeboat\.dev shop\/shop: no answer from the API server within 0\.2 s$/,
      );
      return true;
    });
    assert.ok(Date.now() - started < 2_000, `failed after ${Date.now() - started} ms`);
    hang = false;
    assert.deepEqual(await kube.getLifeboat('Cluster', 'shop', 'shop'), {
      kind: 'Cluster',
      metadata: { name: 'shop' },
    });
  });

  it('the self-signed CA patch is bounded too', async () => {
    const { kubeClientFor } = await import('./fake-api-server.js');
    const kube = kubeClientFor(url, { timeoutMs: 200 });
    await assert.rejects(
      kube.injectCaBundle('MutatingWebhookConfiguration', 'lifeboat', 'PEM'),
      /no answer from the API server within 0\.2 s/,
    );
  });
});

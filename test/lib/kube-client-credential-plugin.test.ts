// A kubeconfig whose user logs in through a credential plugin (user.exec), as on EKS, GKE or with
// OIDC: when the plugin fails, the error names the plugin and what to do, not "the API server could
// not be reached ()". Real client-node and real plugin processes (shell scripts), against a fake
// API server; a server that is down is still reported as unreachable.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeApiError, KubeClient } from '../../lib/kube-client.js';
import { apiError } from '../../lib/kube-errors.js';
import { FakeApiServer, json } from './fake-api-server.js';

const CREDENTIAL = JSON.stringify({
  apiVersion: 'client.authentication.k8s.io/v1',
  kind: 'ExecCredential',
  status: { token: 'plugin-token' },
});

describe('kube client with a credential plugin (real client-node, fake API server, shell-script plugins)', () => {
  const api = new FakeApiServer();
  let url = '';
  let dir = '';
  let authorization: string | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-exec-'));
    api.on('GET /apis/lifeboat.dev/v1alpha1/namespaces/shop/clusters/shop', (req, res) => {
      authorization = req.authorization;
      json(res, 200, { kind: 'Cluster', metadata: { name: 'shop' } });
    });
    url = await api.listen();
  });

  after(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A KubeClient whose user runs `script` (a shell script body) as its credential plugin. */
  function clientWithPlugin(name: string, script: string | undefined, server = url): KubeClient {
    const command = join(dir, name);
    if (script !== undefined) {
      writeFileSync(command, `#!/bin/sh\n${script}\n`);
      chmodSync(command, 0o755);
    }
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'c', server, skipTLSVerify: true }],
      users: [
        { name: 'u', exec: { apiVersion: 'client.authentication.k8s.io/v1', command, interactiveMode: 'Never' } },
      ],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    return new KubeClient(config, { timeoutMs: 5_000 });
  }

  async function failure(kube: KubeClient): Promise<KubeApiError> {
    try {
      await kube.getLifeboat('Cluster', 'shop', 'shop');
    } catch (err) {
      assert.ok(err instanceof KubeApiError, String(err));
      return err;
    }
    assert.fail('the call succeeded');
  }

  it('a working plugin: its token is sent', async () => {
    const kube = clientWithPlugin('good', `echo '${CREDENTIAL}'`);
    assert.deepEqual(await kube.getLifeboat('Cluster', 'shop', 'shop'), {
      kind: 'Cluster',
      metadata: { name: 'shop' },
    });
    assert.equal(authorization, 'Bearer plugin-token');
  });

  it('a plugin that fails saying why: its words, and to log in again', async () => {
    const err = await failure(clientWithPlugin('expired', 'echo "token expired: run sso login" >&2; exit 1'));
    assert.equal(err.code, 0);
    assert.equal(
      err.message,
      `get clusters.lifeboat.dev shop/shop: the kubeconfig's credential plugin ${join(dir, 'expired')} failed ` +
        '(token expired: run sso login): log in again, or fix user.exec in the kubeconfig',
    );
  });

  it('a plugin that fails silently: says it printed nothing, never "()"', async () => {
    const err = await failure(clientWithPlugin('silent', 'exit 3'));
    assert.match(err.message, /credential plugin .*silent failed \(it exited with an error and printed nothing\)/);
    assert.doesNotMatch(err.message, /\(\)|could not be reached/);
  });

  it('a plugin that is not there: could not be started, install it', async () => {
    const err = await failure(clientWithPlugin('missing', undefined));
    assert.match(err.message, /credential plugin .*missing could not be started \(spawn .*ENOENT\): install it/);
  });

  it('a plugin that prints no ExecCredential: says so', async () => {
    const err = await failure(clientWithPlugin('garbled', 'echo "Welcome!"'));
    assert.match(err.message, /credential plugin .*garbled did not print an ExecCredential \(.*\): fix user\.exec/);
  });

  it('a working plugin and an API server that is down: still "could not be reached"', async () => {
    const down = new FakeApiServer();
    const downUrl = await down.listen();
    await down.stop();
    const err = await failure(clientWithPlugin('good-down', `echo '${CREDENTIAL}'`, downUrl));
    assert.match(
      err.message,
      /^get clusters\.lifeboat\.dev shop\/shop: the API server could not be reached \(.*ECONNREFUSED/,
    );
  });
});

describe('apiError with a credential plugin in the kubeconfig (synthetic errors)', () => {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u', exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws' } }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  const reset = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
  const aborted = Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });

  it('a connection reset mid-watch and an abort are the connection, not the plugin', () => {
    for (const err of [reset, aborted]) {
      const out = apiError('watch backups.lifeboat.dev in namespace shop', err, config);
      assert.match(
        out.message,
        /^watch backups\.lifeboat\.dev in namespace shop: the API server could not be reached \(/,
      );
    }
  });

  it('a bare Error (the plugin’s stderr) is the plugin’s', () => {
    const out = apiError('get x', new Error('error: SSO session expired\n'), config);
    assert.equal(
      out.message,
      "get x: the kubeconfig's credential plugin aws failed (error: SSO session expired): log in again, or fix user.exec in the kubeconfig",
    );
  });
});

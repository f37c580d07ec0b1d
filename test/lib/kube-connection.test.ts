// Where the light Kubernetes transport finds its connection: kubeconfig variants, the pod's service
// account, the cases handed to the full client, and the errors that say what to fix. Temp files only.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { dump } from 'js-yaml';
import { bearerToken, resolveConnection, type KubeConnection } from '../../lib/kube-connection.js';
import { KubeApiError } from '../../lib/kube-errors.js';

const CA_PEM = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n';
const b64 = (text: string): string => Buffer.from(text).toString('base64');

interface KubeconfigParts {
  readonly cluster?: Record<string, unknown>;
  readonly user?: Record<string, unknown>;
  readonly currentContext?: string | null;
}

function kubeconfig({ cluster = {}, user = {}, currentContext = 'ctx' }: KubeconfigParts): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c1', cluster: { server: 'https://api.example:6443/', ...cluster } }],
    users: [{ name: 'u1', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c1', user: 'u1', namespace: 'shop' } }],
    ...(currentContext === null ? {} : { 'current-context': currentContext }),
  };
}

function direct(env: NodeJS.ProcessEnv, serviceAccountDir?: string): KubeConnection {
  const choice = resolveConnection({ env, ...(serviceAccountDir ? { serviceAccountDir } : {}) });
  assert.equal(choice.kind, 'direct', JSON.stringify(choice));
  return (choice as { connection: KubeConnection }).connection;
}

function fullClientWhy(env: NodeJS.ProcessEnv): string {
  const choice = resolveConnection({ env });
  assert.equal(choice.kind, 'full-client');
  return (choice as { why: string }).why;
}

function rejects(env: NodeJS.ProcessEnv, message: RegExp, serviceAccountDir?: string): void {
  assert.throws(
    () => resolveConnection({ env, ...(serviceAccountDir ? { serviceAccountDir } : {}) }),
    (err: unknown) => err instanceof KubeApiError && err.code === 0 && message.test(err.message),
  );
}

describe('kube connection (temp kubeconfigs and service account dirs)', () => {
  let dir: string;
  let nowhere: string;
  const write = (name: string, content: string): string => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  const writeConfig = (parts: KubeconfigParts, name = 'config'): string => write(name, dump(kubeconfig(parts)));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-kubeconfig-'));
    nowhere = join(dir, 'no-service-account');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('kubeconfig', () => {
    it('reads the server, the CA and a client certificate from -data fields', () => {
      const user = { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') };
      const path = writeConfig({ cluster: { 'certificate-authority-data': b64(CA_PEM) }, user });
      const c = direct({ KUBECONFIG: path }, nowhere);
      assert.equal(c.server, 'https://api.example:6443');
      assert.equal(c.ca?.toString(), CA_PEM);
      assert.equal(c.cert?.toString(), 'CERT');
      assert.equal(c.key?.toString(), 'KEY');
      assert.equal(c.insecureSkipTlsVerify, false);
      assert.equal(c.source, `kubeconfig ${path}, context ctx`);
    });

    it('reads certificate files relative to the kubeconfig, and a token file afresh each time', () => {
      mkdirSync(join(dir, 'pki'));
      write('pki/ca.crt', CA_PEM);
      write('pki/user.crt', 'CERT');
      write('pki/user.key', 'KEY');
      write('token', 'first\n');
      const user = { 'client-certificate': 'pki/user.crt', 'client-key': 'pki/user.key', tokenFile: 'token' };
      const c = direct({ KUBECONFIG: writeConfig({ cluster: { 'certificate-authority': 'pki/ca.crt' }, user }) });
      assert.deepEqual([c.ca?.toString(), c.cert?.toString(), c.key?.toString()], [CA_PEM, 'CERT', 'KEY']);
      assert.equal(bearerToken(c), 'first');
      write('token', 'rotated');
      assert.equal(bearerToken(c), 'rotated');
    });

    it('takes a token, insecure-skip-tls-verify, tls-server-name and a path after the host', () => {
      const cluster = {
        server: 'http://127.0.0.1:8001/k8s/',
        'insecure-skip-tls-verify': true,
        'tls-server-name': 'k',
      };
      const c = direct({ KUBECONFIG: writeConfig({ cluster, user: { token: 'abc' } }) });
      assert.equal(c.server, 'http://127.0.0.1:8001/k8s');
      assert.equal(c.insecureSkipTlsVerify, true);
      assert.equal(c.tlsServerName, 'k');
      assert.equal(bearerToken(c), 'abc');
    });

    it('is found in ~/.kube/config when KUBECONFIG is not set', () => {
      mkdirSync(join(dir, '.kube'));
      writeConfig({ user: { token: 'abc' } }, '.kube/config');
      assert.equal(direct({ HOME: dir }, nowhere).server, 'https://api.example:6443');
    });

    for (const [user, why] of [
      [{ exec: { command: 'aws' } }, /uses exec/],
      [{ 'auth-provider': { name: 'oidc' } }, /uses auth-provider/],
      [{ username: 'u', password: 'p' }, /uses username/],
      [{ as: 'someone', token: 't' }, /uses as/],
    ] as const) {
      it(`leaves a user with ${Object.keys(user)[0] ?? ''} to the full client`, () => {
        assert.match(fullClientWhy({ KUBECONFIG: writeConfig({ user }) }), why);
      });
    }

    it('leaves a proxy-url and several KUBECONFIG files to the full client', () => {
      const proxied = writeConfig({ cluster: { 'proxy-url': 'http://proxy:3128' } });
      assert.match(fullClientWhy({ KUBECONFIG: proxied }), /clusters\[c1\]\.cluster has a proxy-url/);
      const other = writeConfig({}, 'other');
      assert.match(fullClientWhy({ KUBECONFIG: [proxied, other].join(delimiter) }), /several files/);
    });
  });

  describe('errors that name what to fix', () => {
    it('a KUBECONFIG that names a missing file', () => {
      const path = join(dir, 'missing');
      rejects({ KUBECONFIG: path }, new RegExp(`^kubeconfig ${path} \\(from KUBECONFIG\\): cannot read .*ENOENT`));
    });

    it('a kubeconfig that is not YAML, without quoting its lines', () => {
      const path = write('config', 'users:\n- name: u1\n  user:\n    token: s3cr3t\n   bad: [\n');
      rejects({ KUBECONFIG: path }, /is not valid YAML at line \d+ \(.+\); fix it$/);
      assert.throws(
        () => resolveConnection({ env: { KUBECONFIG: path } }),
        (err: Error) => !err.message.includes('s3cr3t'),
      );
    });

    it('no current-context, and a context naming a cluster that is not there', () => {
      rejects({ KUBECONFIG: writeConfig({ currentContext: null }) }, /no current-context; choose one with kubectl/);
      rejects({ KUBECONFIG: writeConfig({ currentContext: 'other' }) }, /contexts has no entry named 'other'/);
    });

    it('a cluster without a server, or with one that is not a URL', () => {
      rejects({ KUBECONFIG: writeConfig({ cluster: { server: '' } }) }, /clusters\[c1\]\.cluster\.server is missing/);
      rejects({ KUBECONFIG: writeConfig({ cluster: { server: 'api:6443' } }) }, /'api:6443' is not an http\(s\) URL/);
    });

    it('a certificate file that cannot be read', () => {
      const path = writeConfig({ cluster: { 'certificate-authority': 'nope.crt' } });
      rejects(
        { KUBECONFIG: path },
        /cannot read clusters\[c1\]\.cluster\.certificate-authority .*nope\.crt \(ENOENT\)/,
      );
    });

    it('a token file gone since, without the token in the message', () => {
      write('token', 'first');
      const c = direct({ KUBECONFIG: writeConfig({ user: { tokenFile: 'token' } }) });
      rmSync(join(dir, 'token'));
      assert.throws(() => bearerToken(c), /cannot read the token file .*token of kubeconfig .* \(ENOENT\)/);
    });

    it('nothing configured at all', () => {
      rejects({ HOME: dir }, /^no Kubernetes cluster configured: set KUBECONFIG, or run inside a pod$/, nowhere);
    });
  });

  describe('in a pod', () => {
    const serviceAccount = (): string => {
      const sa = join(dir, 'serviceaccount');
      mkdirSync(sa);
      writeFileSync(join(sa, 'token'), 'pod-token');
      writeFileSync(join(sa, 'ca.crt'), CA_PEM);
      return sa;
    };

    it('uses the service account token (read afresh) and CA, and the service host and port', () => {
      const sa = serviceAccount();
      const c = direct({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, sa);
      assert.equal(c.server, 'https://10.0.0.1:443');
      assert.equal(c.ca?.toString(), CA_PEM);
      assert.equal(bearerToken(c), 'pod-token');
      writeFileSync(join(sa, 'token'), 'rotated-token');
      assert.equal(bearerToken(c), 'rotated-token');
    });

    it('brackets an IPv6 host', () => {
      const c = direct({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccount());
      assert.equal(c.server, 'https://[fd00::1]:443');
    });

    it('says which variables are missing', () => {
      rejects({}, /KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is not set/, serviceAccount());
    });

    it('prefers a kubeconfig, as KubeClient.fromEnvironment does', () => {
      const env = { KUBECONFIG: writeConfig({}), KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
      assert.equal(direct(env, serviceAccount()).server, 'https://api.example:6443');
    });
  });
});

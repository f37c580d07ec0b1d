// Connection failures name the instance and the fix, and never the password.
import assert from 'node:assert/strict';
import { connectInstance, connectionFailure, isAccessDenied } from '../../../runner/engine/db-connection.js';
import { staticInstances } from '../../../runner/engine/instance-list.js';
import { ConnectionFailedError } from '../../../runner/work-failures.js';

const [instance] = staticInstances([{ name: 'db-0', host: '10.1.2.3', port: 3307 }]);
const credentials = { user: 'lifeboat', password: 'pa55-word' };

function driverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

const cases: { title: string; err: unknown; fix: RegExp }[] = [
  {
    title: 'access denied → check the Secret keys',
    err: driverError('ER_ACCESS_DENIED_ERROR', "Access denied for user 'lifeboat'@'10.0.0.9' (using password: YES)"),
    fix: /check the username and password keys of the Cluster's credentials Secret/,
  },
  {
    title: 'refused → check host and port and that the server runs',
    err: driverError('ECONNREFUSED', 'connect ECONNREFUSED 10.1.2.3:3307'),
    fix: /check the instance host and port in the Cluster and that the database server is running/,
  },
  {
    title: 'timeout → check host and port and that the server runs',
    err: driverError('ETIMEDOUT', 'connect ETIMEDOUT'),
    fix: /check the instance host and port/,
  },
  {
    title: 'anything else → check the server',
    err: new Error('Too many connections'),
    fix: /check that the database server is running/,
  },
  {
    title: 'a driver message quoting the password is scrubbed',
    err: driverError('ER_ACCESS_DENIED_ERROR', 'Access denied, you said pa55-word'),
    fix: /you said \[redacted\]/,
  },
];

describe('db connection', () => {
  for (const c of cases) {
    it(c.title, () => {
      const failure = connectionFailure(instance!, c.err, credentials);
      assert.ok(failure instanceof ConnectionFailedError);
      assert.equal(failure.retryable, true);
      assert.match(failure.message, /^cannot connect to instance db-0 \(10\.1\.2\.3:3307\) as 'lifeboat': /);
      assert.match(failure.message, c.fix);
      assert.ok(!failure.message.includes(credentials.password));
      assert.ok(!String((failure.cause as Error).message).includes(credentials.password));
    });
  }

  it('the cause keeps the driver code, so callers can tell bad credentials from a dead server', () => {
    const denied = connectionFailure(instance!, driverError('ER_ACCESS_DENIED_ERROR', 'x'), credentials);
    const refused = connectionFailure(instance!, driverError('ECONNREFUSED', 'x'), credentials);
    assert.equal(isAccessDenied(denied.cause), true);
    assert.equal(isAccessDenied(refused.cause), false);
  });

  it('names where the credentials come from when the caller says', () => {
    const failure = connectionFailure(
      instance!,
      driverError('ER_ACCESS_DENIED_ERROR', 'x'),
      credentials,
      'Secret shop-db (keys username/password)',
    );
    assert.match(failure.message, /check the username and password keys of Secret shop-db \(keys username\/password\)/);
  });

  const withTls = { ...credentials, tls: { verify: true, cluster: 'shop' } };

  it('tls and a server without TLS → says so, names the Cluster, and that nothing was sent', () => {
    const failure = connectionFailure(
      instance!,
      driverError('HANDSHAKE_NO_SSL_SUPPORT', 'Server does not support secure connection'),
      withTls,
    );
    assert.match(
      failure.message,
      /Cluster shop sets spec\.credentials\.tls but the server offers no TLS, so Lifeboat did not log in/,
    );
  });

  const untrusted: [string, string][] = [
    ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"],
    // What mysql2 makes of Node's errors: its own code, Node's message.
    ['HANDSHAKE_SSL_ERROR', 'self-signed certificate in certificate chain'],
  ];
  for (const [code, message] of untrusted) {
    it(`tls and an untrusted certificate (${code}: ${message}) → fix caSecretRef and the certificate's names`, () => {
      const failure = connectionFailure(instance!, driverError(code, message), withTls);
      assert.match(failure.message, /set spec\.credentials\.tls\.caSecretRef of Cluster shop to the CA that signs it/);
      assert.match(failure.message, /make the certificate name 10\.1\.2\.3/);
    });
  }

  it('a pod without an IP fails before any network call', async () => {
    const [noIp] = staticInstances([{ name: 'db-1', host: '' }]);
    await assert.rejects(
      connectInstance(noIp!, credentials),
      (err: unknown) => err instanceof ConnectionFailedError && /the pod has no IP yet/.test(err.message),
    );
  });
});

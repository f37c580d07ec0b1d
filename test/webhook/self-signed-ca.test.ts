// The self-signed CA: what the API server will accept from the generated chain, why a stored bundle
// is replaced, and how the directory store keeps the key.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bundleProblem,
  CA_COMMON_NAME,
  CertificateHostsError,
  DirectoryBundleStore,
  ensureSelfSigned,
  generateSelfSigned,
  type TlsBundle,
  type TlsBundleStore,
} from '../../webhook/self-signed-ca.js';

const SERVICE = 'lifeboat-webhook.lifeboat-system.svc';
const HOSTS = [SERVICE, '127.0.0.1'];
const DAY_MS = 24 * 60 * 60 * 1000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

class MemoryStore implements TlsBundleStore {
  saves = 0;
  constructor(public bundle?: TlsBundle) {}
  async load(): Promise<TlsBundle | undefined> {
    return this.bundle;
  }
  async save(bundle: TlsBundle): Promise<void> {
    this.saves += 1;
    this.bundle = bundle;
  }
  describe(): string {
    return 'memory';
  }
}

describe('self-signed CA', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  let first: TlsBundle;
  let second: TlsBundle;

  before(() => {
    first = generateSelfSigned(HOSTS, now);
    second = generateSelfSigned(HOSTS, now);
  });

  describe('generateSelfSigned', () => {
    it('gives a CA and a serving certificate it signed, with the serving key', () => {
      const ca = new X509Certificate(first.caCert);
      const cert = new X509Certificate(first.cert);
      assert.equal(ca.ca, true);
      assert.equal(ca.subject, `CN=${CA_COMMON_NAME}`);
      assert.equal(ca.verify(ca.publicKey), true, 'the CA is self-signed');
      assert.equal(cert.ca, false);
      assert.equal(cert.subject, `CN=${SERVICE}`);
      assert.equal(cert.issuer, `CN=${CA_COMMON_NAME}`);
      assert.equal(cert.verify(ca.publicKey), true);
      assert.equal(cert.checkIssued(ca), true);
      assert.equal(cert.verify(new X509Certificate(second.caCert).publicKey), false, 'another CA did not sign it');
      assert.deepEqual(cert.keyUsage, [SERVER_AUTH]);
      assert.match(first.key, /^-----BEGIN PRIVATE KEY-----/);
    });

    it('covers the IP and the Service DNS name as SANs, and nothing else', () => {
      const cert = new X509Certificate(first.cert);
      assert.equal(cert.subjectAltName, `DNS:${SERVICE}, IP Address:127.0.0.1`);
      assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
      assert.equal(cert.checkHost(SERVICE, { subject: 'never' }), SERVICE);
      assert.equal(cert.checkHost('other.lifeboat-system.svc'), undefined);
      assert.equal(cert.checkIP('10.0.0.1'), undefined);
      const v6 = new X509Certificate(generateSelfSigned(['::1'], now).cert);
      assert.equal(v6.checkIP('::1'), '::1');
    });

    it('the CA lasts 10 years and the serving certificate 1, both valid from (just before) now', () => {
      const ca = new X509Certificate(first.caCert);
      const cert = new X509Certificate(first.cert);
      for (const c of [ca, cert]) {
        const from = new Date(c.validFrom).getTime();
        assert.ok(from <= now.getTime() && from > now.getTime() - DAY_MS, c.validFrom);
      }
      assert.equal(new Date(ca.validTo).toISOString(), '2036-03-01T12:00:00.000Z');
      assert.equal(new Date(cert.validTo).toISOString(), '2027-03-01T12:00:00.000Z');
    });

    it('random, positive serial numbers', () => {
      const serials = [first.caCert, first.cert, second.caCert, second.cert].map(
        (pem) => new X509Certificate(pem).serialNumber,
      );
      assert.equal(new Set(serials).size, 4);
      for (const serial of serials) assert.ok(parseInt(serial.slice(0, 2), 16) < 0x80, serial);
    });

    it('refuses no hosts and hosts that are neither DNS names nor IPs', () => {
      assert.throws(() => generateSelfSigned([], now), CertificateHostsError);
      assert.throws(() => generateSelfSigned([], now), /at least one host/);
      assert.throws(
        () => generateSelfSigned([SERVICE, 'not a host', 'a..b'], now),
        (err: unknown) =>
          err instanceof CertificateHostsError &&
          err.reason === 'InvalidCertificateHosts' &&
          err.message === '"not a host", "a..b" is neither a DNS name nor an IP address; fix the webhook hosts',
      );
    });
  });

  describe('bundleProblem', () => {
    it('none for a fresh bundle and the hosts it was made for, in any order', () => {
      assert.equal(bundleProblem(first, HOSTS, now), undefined);
      assert.equal(bundleProblem(first, ['127.0.0.1', SERVICE], now), undefined);
    });

    it('names the host not covered', () => {
      assert.equal(
        bundleProblem(first, [...HOSTS, 'lifeboat-webhook.other.svc', '10.0.0.1'], now),
        `the serving certificate does not cover lifeboat-webhook.other.svc, 10.0.0.1 (it covers DNS:${SERVICE}, IP Address:127.0.0.1)`,
      );
    });

    it('says when it expires within the margin, and respects a custom margin', () => {
      const late = new Date(now.getTime() + 340 * DAY_MS);
      assert.equal(
        bundleProblem(first, HOSTS, late),
        'the serving certificate expires on 2027-03-01T12:00:00.000Z, within 30 days',
      );
      assert.equal(bundleProblem(first, HOSTS, late, 20), undefined);
      assert.match(bundleProblem(first, HOSTS, new Date('2028-01-01')) ?? '', /expires on 2027-03-01/);
    });

    it('says when it is not valid yet (a clock set back)', () => {
      assert.match(
        bundleProblem(first, HOSTS, new Date(now.getTime() - DAY_MS)) ?? '',
        /^the serving certificate is not valid before 2026-03-01T11:55:00.000Z$/,
      );
    });

    it('says when the key does not match or another CA signed the certificate', () => {
      assert.equal(
        bundleProblem({ ...first, key: second.key }, HOSTS, now),
        'the private key does not match the serving certificate',
      );
      assert.equal(
        bundleProblem({ ...first, caCert: second.caCert }, HOSTS, now),
        'the serving certificate is not signed by the CA',
      );
      assert.equal(
        bundleProblem({ ...first, caCert: first.cert }, HOSTS, now),
        'the CA certificate is not a CA (basicConstraints cA is not set)',
      );
    });

    it('says which part is garbage, without echoing it', () => {
      assert.equal(bundleProblem({ ...first, caCert: 'garbage' }, HOSTS, now), 'the CA certificate is not valid PEM');
      assert.equal(bundleProblem({ ...first, cert: '' }, HOSTS, now), 'the serving certificate is not valid PEM');
      assert.equal(bundleProblem({ ...first, key: first.cert }, HOSTS, now), 'the private key is not valid PEM');
    });
  });

  describe('ensureSelfSigned', () => {
    it('generates and saves when nothing is stored', async () => {
      const store = new MemoryStore();
      const out = await ensureSelfSigned(store, HOSTS, now);
      assert.equal(out.created, true);
      assert.equal(out.replaced, undefined);
      assert.equal(store.saves, 1);
      assert.deepEqual(store.bundle, out.bundle);
      assert.equal(bundleProblem(out.bundle, HOSTS, now), undefined);
    });

    it('reuses a good stored bundle without saving', async () => {
      const store = new MemoryStore(first);
      const out = await ensureSelfSigned(store, HOSTS, now);
      assert.deepEqual(out, { bundle: first, created: false });
      assert.equal(store.saves, 0);
    });

    // One `it` per case: each generates a bundle, and RSA key generation time varies widely.
    const replacements: [string, () => TlsBundle, readonly string[], () => Date, RegExp][] = [
      ['a host was added', () => first, [...HOSTS, `${SERVICE}.cluster.local`], () => now, /does not cover/],
      ['it expires within 30 days', () => first, HOSTS, () => new Date(now.getTime() + 350 * DAY_MS), /expires on/],
      ['the key does not match', () => ({ ...first, key: second.key }), HOSTS, () => now, /key does not match/],
      ['it is garbage', () => ({ caCert: 'x', cert: 'y', key: 'z' }), HOSTS, () => now, /not valid PEM/],
    ];
    for (const [name, stored, hosts, at, why] of replacements) {
      it(`replaces a stored bundle when ${name}, saying why`, async () => {
        const store = new MemoryStore(stored());
        const out = await ensureSelfSigned(store, hosts, at());
        assert.equal(out.created, true);
        assert.match(out.replaced ?? '', why);
        assert.equal(store.saves, 1);
        assert.notEqual(out.bundle.caCert, first.caCert);
        assert.equal(bundleProblem(out.bundle, hosts, at()), undefined);
      });
    }

    it('refuses no hosts even when a bundle is stored', async () => {
      await assert.rejects(ensureSelfSigned(new MemoryStore(first), [], now), CertificateHostsError);
    });
  });

  describe('DirectoryBundleStore', () => {
    let root: string;
    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'lifeboat-ca-'));
    });
    afterEach(async () => {
      await rm(root, { recursive: true, force: true });
    });

    const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

    it('loads nothing from a missing directory, or from one with only part of a bundle', async () => {
      const store = new DirectoryBundleStore(join(root, 'tls'));
      assert.equal(await store.load(), undefined);
      await store.save(first);
      await rm(store.keyFile);
      assert.equal(await store.load(), undefined);
    });

    it('creates the directory 0700, writes the key 0600, and loads what it saved', async () => {
      const dir = join(root, 'nested', 'tls');
      const store = new DirectoryBundleStore(dir);
      await store.save(first);
      assert.equal(await mode(dir), 0o700);
      assert.equal(await mode(store.keyFile), 0o600);
      assert.equal((await mode(store.certFile)) & 0o600, 0o600);
      assert.equal(store.certFile, join(dir, 'tls.crt'));
      assert.equal(store.keyFile, join(dir, 'tls.key'));
      assert.deepEqual((await readdir(dir)).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
      assert.deepEqual(await store.load(), first);
      assert.equal(store.describe(), `directory ${dir}`);
    });

    it('replaces files by rename (new inodes), leaving no temp files', async () => {
      const store = new DirectoryBundleStore(root);
      await store.save(first);
      const before = (await stat(store.certFile)).ino;
      await store.save(second);
      assert.notEqual((await stat(store.certFile)).ino, before);
      assert.deepEqual(await store.load(), second);
      assert.deepEqual((await readdir(root)).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    });

    it('ensureSelfSigned through the directory: reuses, then replaces a damaged bundle', async () => {
      const store = new DirectoryBundleStore(root);
      const made = await ensureSelfSigned(store, HOSTS, now);
      assert.equal(made.created, true);
      const again = await ensureSelfSigned(store, HOSTS, now);
      assert.equal(again.created, false);
      assert.deepEqual(again.bundle, made.bundle);
      await writeFile(store.keyFile, second.key);
      const fixed = await ensureSelfSigned(store, HOSTS, now);
      assert.equal(fixed.replaced, 'the private key does not match the serving certificate');
      assert.deepEqual(await store.load(), fixed.bundle);
    });

    it('a directory it cannot write fails with what to do', async () => {
      const blocker = join(root, 'file');
      await writeFile(blocker, '');
      const store = new DirectoryBundleStore(join(blocker, 'tls'));
      await assert.rejects(store.save(first), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.equal(err.name, 'BundleStoreError');
        assert.match(err.message, /^cannot create .*\/file\/tls: ENOTDIR; let the webhook's user read and write/);
        return true;
      });
    });
  });
});

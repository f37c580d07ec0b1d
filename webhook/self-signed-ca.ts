// A private CA and a serving certificate for the webhook, for clusters without cert-manager. Keys
// come from Node's native generator (node-forge's pure-JS RSA takes seconds); node-forge only
// assembles and signs the X.509 structures, which Node cannot do.
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

/** PEM strings: the CA the API server trusts (`caBundle`), and the pair the webhook serves. */
export interface TlsBundle {
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
}

/** Where a bundle lives between runs: a directory here; a Kubernetes Secret elsewhere. */
export interface TlsBundleStore {
  /** The stored bundle, or undefined when none (or only part of one) is stored. */
  load(): Promise<TlsBundle | undefined>;
  save(bundle: TlsBundle): Promise<void>;
  /** Where the bundle lives, for log lines and error messages. */
  describe(): string;
}

export const CA_COMMON_NAME = 'Lifeboat webhook CA';
const CA_YEARS = 10;
const SERVING_YEARS = 1;
const DAY_MS = 24 * 60 * 60 * 1000;
// Nodes' clocks drift; a certificate valid from "now" would be refused by an API server a few
// seconds behind the webhook's node.
const BACKDATE_MS = 5 * 60 * 1000;
const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** The hosts given for the serving certificate cannot be put in one. */
export class CertificateHostsError extends Error {
  readonly reason = 'InvalidCertificateHosts';
  readonly retryable = false;
  override readonly name = 'CertificateHostsError';
}

/** The bundle directory could not be read or written. */
export class BundleStoreError extends Error {
  readonly reason = 'CertificateStoreFailed';
  readonly retryable = false;
  override readonly name = 'BundleStoreError';
}

function checkHosts(hosts: readonly string[]): string[] {
  const unique = [...new Set(hosts)];
  if (unique.length === 0) {
    throw new CertificateHostsError(
      'the webhook certificate needs at least one host; name the DNS names or IPs the API server uses to reach ' +
        'the webhook (its Service, e.g. lifeboat-webhook.lifeboat-system.svc)',
    );
  }
  const bad = unique.filter((h) => isIP(h) === 0 && (h.length > 253 || !DNS_NAME.test(h)));
  if (bad.length > 0) {
    throw new CertificateHostsError(
      `${bad.map((h) => JSON.stringify(h)).join(', ')} is neither a DNS name nor an IP address; fix the webhook hosts`,
    );
  }
  return unique;
}

interface PemKeyPair {
  readonly publicKey: string;
  readonly privateKey: string;
}

function rsaKeyPair(): PemKeyPair {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** 16 random bytes, the top bit clear so the DER INTEGER is positive and a bit set so it stays 16 bytes. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function baseCertificate(publicKeyPem: string, now: Date, years: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = new Date(now.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + years);
  cert.validity.notAfter = notAfter;
  return cert;
}

function caCertificate(keys: PemKeyPair, now: Date): forge.pki.Certificate {
  const cert = baseCertificate(keys.publicKey, now, CA_YEARS);
  const subject = [{ name: 'commonName', value: CA_COMMON_NAME }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKey), forge.md.sha256.create());
  return cert;
}

function servingCertificate(
  hosts: readonly string[],
  keys: PemKeyPair,
  ca: forge.pki.Certificate,
  now: Date,
): forge.pki.Certificate {
  const cert = baseCertificate(keys.publicKey, now, SERVING_YEARS);
  cert.setSubject([{ name: 'commonName', value: hosts[0] }]);
  cert.setIssuer(ca.subject.attributes);
  const altNames = hosts.map((h) => (isIP(h) === 0 ? { type: 2, value: h } : { type: 7, ip: h }));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  return cert;
}

/**
 * A fresh CA and a serving certificate it signed, for `hosts` (the first is also the CN; IPs become
 * IP SANs, the rest DNS SANs). The CA's private key is dropped: nothing can be signed with it later,
 * so a leaked bundle never lets anyone mint other certificates the API server would trust.
 */
export function generateSelfSigned(hosts: readonly string[], now: Date = new Date()): TlsBundle {
  const names = checkHosts(hosts);
  const caKeys = rsaKeyPair();
  const ca = caCertificate(caKeys, now);
  const servingKeys = rsaKeyPair();
  const serving = servingCertificate(names, servingKeys, ca, now);
  serving.sign(forge.pki.privateKeyFromPem(caKeys.privateKey), forge.md.sha256.create());
  return {
    caCert: forge.pki.certificateToPem(ca),
    cert: forge.pki.certificateToPem(serving),
    key: servingKeys.privateKey,
  };
}

interface ParsedBundle {
  readonly ca: X509Certificate;
  readonly cert: X509Certificate;
  readonly key: KeyObject;
}

function parse<T>(what: string, make: () => T): T | string {
  try {
    return make();
  } catch {
    return `the ${what} is not valid PEM`;
  }
}

function parseBundle(bundle: TlsBundle): ParsedBundle | string {
  const ca = parse('CA certificate', () => new X509Certificate(bundle.caCert));
  if (typeof ca === 'string') return ca;
  const cert = parse('serving certificate', () => new X509Certificate(bundle.cert));
  if (typeof cert === 'string') return cert;
  const key = parse('private key', () => createPrivateKey(bundle.key));
  if (typeof key === 'string') return key;
  return { ca, cert, key };
}

function chainProblem({ ca, cert, key }: ParsedBundle): string | undefined {
  if (!ca.ca) return 'the CA certificate is not a CA (basicConstraints cA is not set)';
  if (!cert.checkPrivateKey(key)) return 'the private key does not match the serving certificate';
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'the serving certificate is not signed by the CA';
  return undefined;
}

function hostsProblem(cert: X509Certificate, hosts: readonly string[]): string | undefined {
  // Clients ignore the CN when SANs are present (Go's, the API server's, always), so only SANs count.
  const missing = hosts.filter((h) => (isIP(h) === 0 ? !cert.checkHost(h, { subject: 'never' }) : !cert.checkIP(h)));
  if (missing.length === 0) return undefined;
  return `the serving certificate does not cover ${missing.join(', ')} (it covers ${cert.subjectAltName ?? 'nothing'})`;
}

function validityProblem(what: string, cert: X509Certificate, now: Date, minRemainingDays: number): string | undefined {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (now < from) return `the ${what} is not valid before ${from.toISOString()}`;
  if (to.getTime() - now.getTime() < minRemainingDays * DAY_MS) {
    return `the ${what} expires on ${to.toISOString()}, within ${minRemainingDays} days`;
  }
  return undefined;
}

/**
 * Why `bundle` cannot keep serving `hosts` from `now` for at least `minRemainingDays`, or undefined
 * when it can. The answer names no key material, so it can go into a log line as is.
 */
export function bundleProblem(
  bundle: TlsBundle,
  hosts: readonly string[],
  now: Date = new Date(),
  minRemainingDays = 30,
): string | undefined {
  const parsed = parseBundle(bundle);
  if (typeof parsed === 'string') return parsed;
  return (
    chainProblem(parsed) ??
    hostsProblem(parsed.cert, hosts) ??
    validityProblem('serving certificate', parsed.cert, now, minRemainingDays) ??
    validityProblem('CA certificate', parsed.ca, now, minRemainingDays)
  );
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && 'code' in err && err.code === 'ENOENT';
}

function errorCode(err: unknown): string {
  return err instanceof Error && 'code' in err ? String(err.code) : String(err);
}

/** A bundle as `ca.crt`, `tls.crt` and `tls.key` in one directory, the layout of a TLS Secret volume. */
export class DirectoryBundleStore implements TlsBundleStore {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;

  constructor(readonly dir: string) {
    this.caFile = join(dir, 'ca.crt');
    this.certFile = join(dir, 'tls.crt');
    this.keyFile = join(dir, 'tls.key');
  }

  describe(): string {
    return `directory ${this.dir}`;
  }

  async load(): Promise<TlsBundle | undefined> {
    // In turn: when several files fail, the error names the same one every time.
    const caCert = await this.read(this.caFile);
    const cert = await this.read(this.certFile);
    const key = await this.read(this.keyFile);
    if (caCert === undefined || cert === undefined || key === undefined) return undefined;
    return { caCert, cert, key };
  }

  async save(bundle: TlsBundle): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw this.failure('create', this.dir, err);
    }
    // The key first: a reader that sees the new certificate then also finds its key in place.
    await this.write(this.keyFile, bundle.key, 0o600);
    await this.write(this.caFile, bundle.caCert, 0o644);
    await this.write(this.certFile, bundle.cert, 0o644);
  }

  private async read(file: string): Promise<string | undefined> {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.failure('read', file, err);
    }
  }

  /** Temp file, fsync, rename: a crash or a concurrent reader never sees a half-written file. */
  private async write(file: string, content: string, mode: number): Promise<void> {
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const handle = await open(temp, 'wx', mode);
      try {
        await handle.writeFile(content, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (err) {
      await rm(temp, { force: true });
      throw this.failure('write', file, err);
    }
  }

  private failure(verb: string, path: string, err: unknown): BundleStoreError {
    return new BundleStoreError(
      `cannot ${verb} ${path}: ${errorCode(err)}; let the webhook's user read and write ${this.dir}, or choose ` +
        'another directory for the self-signed certificate',
      { cause: err },
    );
  }
}

/** The outcome of {@link ensureSelfSigned}. */
export interface EnsuredBundle {
  readonly bundle: TlsBundle;
  /** True when a new bundle was generated and saved: the webhook configurations need the new CA. */
  readonly created: boolean;
  /** Why the stored bundle was replaced; absent when none was stored or it was reused. */
  readonly replaced?: string;
}

/** The stored bundle when it still serves `hosts` for 30 days or more; otherwise a new one, saved. */
export async function ensureSelfSigned(
  store: TlsBundleStore,
  hosts: readonly string[],
  now: Date = new Date(),
): Promise<EnsuredBundle> {
  checkHosts(hosts);
  const stored = await store.load();
  const problem = stored ? bundleProblem(stored, hosts, now) : undefined;
  if (stored && problem === undefined) return { bundle: stored, created: false };
  const bundle = generateSelfSigned(hosts, now);
  await store.save(bundle);
  return problem === undefined ? { bundle, created: true } : { bundle, created: true, replaced: problem };
}

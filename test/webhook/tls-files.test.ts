// Serving certificate files: refused with what to fix, reloaded when replaced in place or by a
// Secret volume's symlink swap, kept when the replacement is bad, and seen by new TLS connections.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { generateSelfSigned, type TlsBundle } from '../../webhook/self-signed-ca.js';
import { TlsFiles, TlsFilesError, type TlsFilesOptions, type TlsMaterial } from '../../webhook/tls-files.js';

const HOSTS = ['127.0.0.1', 'lifeboat-webhook.lifeboat-system.svc'];

interface LogEntry {
  readonly level: 'info' | 'warn';
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** Polls `condition` until it holds; fails naming what was awaited, so a broken reload cannot hang. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;
const pairOf = (bundle: TlsBundle): TlsMaterial => ({ cert: bundle.cert, key: bundle.key });

/** A key's base64 body lines: none may appear in a message or a log. */
function keyLines(bundle: TlsBundle): string[] {
  return bundle.key.split('\n').filter((line) => line.length > 0 && !line.startsWith('-----'));
}

describe('TLS files', () => {
  let a: TlsBundle;
  let b: TlsBundle;
  let dir: string;
  let certFile: string;
  let keyFile: string;
  let logs: LogEntry[];
  let changes: TlsMaterial[];
  let opened: TlsFiles[];

  before(() => {
    a = generateSelfSigned(HOSTS);
    b = generateSelfSigned(HOSTS);
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-tls-'));
    certFile = join(dir, 'tls.crt');
    keyFile = join(dir, 'tls.key');
    logs = [];
    changes = [];
    opened = [];
  });

  afterEach(async () => {
    for (const files of opened) files.close();
    await rm(dir, { recursive: true, force: true });
  });

  function options(extra: Partial<TlsFilesOptions> = {}): TlsFilesOptions {
    return {
      certFile,
      keyFile,
      onChange: (material) => changes.push(material),
      log: {
        info: (obj, msg) => logs.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
        warn: (obj, msg) => logs.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
      },
      pollIntervalMs: 30_000,
      debounceMs: 20,
      ...extra,
    };
  }

  async function openWatching(extra: Partial<TlsFilesOptions> = {}): Promise<TlsFiles> {
    const files = await TlsFiles.open(options(extra));
    opened.push(files);
    files.watch();
    return files;
  }

  async function writePair(bundle: TlsBundle): Promise<void> {
    await writeFile(certFile, bundle.cert);
    await writeFile(keyFile, bundle.key);
  }

  /** Replaces a file whole (temp + rename), so no reader sees it half-written. */
  async function replaceFile(path: string, content: string): Promise<void> {
    await writeFile(`${path}.tmp`, content);
    await rename(`${path}.tmp`, path);
  }

  const warnings = (): LogEntry[] => logs.filter((l) => l.level === 'warn');

  function assertNoKeyMaterial(text: string): void {
    assert.doesNotMatch(text, /PRIVATE KEY/);
    for (const line of [...keyLines(a), ...keyLines(b)]) assert.ok(!text.includes(line), 'key material leaked');
  }

  describe('open', () => {
    it('reads a valid pair', async () => {
      await writePair(a);
      const files = await TlsFiles.open(options());
      assert.deepEqual(files.current(), pairOf(a));
    });

    it('refuses a missing, garbled or mismatched pair, naming the file and what to do', async () => {
      const fix = `mount the serving certificate at ${certFile} and its key at ${keyFile}, or run with --self-signed`;
      const cases: [string, () => Promise<void>, string, string][] = [
        ['missing', async () => undefined, certFile, `cannot read ${certFile}: ENOENT; ${fix}`],
        [
          'garbled certificate',
          () => writePair({ ...a, cert: 'not a certificate' }),
          certFile,
          `${certFile} does not hold a PEM X.509 certificate; ${fix}`,
        ],
        [
          'certificate as key',
          () => writePair({ ...a, key: a.cert }),
          keyFile,
          `${keyFile} does not hold an unencrypted PEM private key; ${fix}`,
        ],
        [
          'mismatched key',
          () => writePair({ ...a, key: b.key }),
          keyFile,
          `the key in ${keyFile} does not belong to the certificate in ${certFile}; ${fix}`,
        ],
      ];
      for (const [name, setup, file, message] of cases) {
        await setup();
        await assert.rejects(TlsFiles.open(options()), (err: unknown) => {
          assert.ok(err instanceof TlsFilesError, name);
          assert.equal(err.reason, 'CertificateUnreadable');
          assert.equal(err.name, 'TlsFilesError');
          assert.equal(err.file, file, name);
          assert.equal(err.message, message);
          assertNoKeyMaterial(err.message);
          return true;
        });
      }
    });
  });

  describe('watch', () => {
    it('reloads after the files are rewritten in place', async () => {
      await writePair(a);
      const files = await openWatching();
      await writePair(b);
      await waitFor(() => changes.length > 0, 'onChange after rewriting the files');
      assert.deepEqual(changes.at(-1), pairOf(b));
      assert.deepEqual(files.current(), pairOf(b));
      const info = logs.find((l) => l.msg === 'serving certificate reloaded');
      assert.equal(info?.obj['fingerprint256'], fingerprint(b.cert));
      assert.equal(info?.obj['notAfter'], new X509Certificate(b.cert).validTo);
      assertNoKeyMaterial(JSON.stringify(logs));
    });

    it('reloads after a Secret-volume style ..data symlink swap', async () => {
      const writeVersion = async (name: string, bundle: TlsBundle): Promise<void> => {
        await mkdir(join(dir, name));
        await writeFile(join(dir, name, 'tls.crt'), bundle.cert);
        await writeFile(join(dir, name, 'tls.key'), bundle.key);
      };
      // The kubelet's layout: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/.
      await writeVersion('..2026_01_01_00_00_00.1', a);
      await symlink('..2026_01_01_00_00_00.1', join(dir, '..data'));
      await symlink(join('..data', 'tls.crt'), certFile);
      await symlink(join('..data', 'tls.key'), keyFile);
      const files = await openWatching();
      assert.deepEqual(files.current(), pairOf(a));

      await writeVersion('..2026_02_01_00_00_00.2', b);
      await symlink('..2026_02_01_00_00_00.2', join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      await rm(join(dir, '..2026_01_01_00_00_00.1'), { recursive: true });

      await waitFor(() => changes.length > 0, 'onChange after the symlink swap');
      assert.deepEqual(files.current(), pairOf(b));
      assert.equal(changes.length, 1, 'one reload for one swap');
    });

    it('keeps serving the old pair when the replacement is invalid, warning once, then takes a valid one', async () => {
      await writePair(a);
      const files = await openWatching({ pollIntervalMs: 20 });
      await replaceFile(certFile, b.cert);
      await waitFor(() => warnings().length > 0, 'a warning about the mismatched pair');
      await pause(120); // several polls of the same bad pair
      assert.equal(warnings().length, 1, JSON.stringify(warnings()));
      const [warning] = warnings();
      assert.equal(warning?.msg, 'serving certificate not reloaded; still serving the previous one');
      assert.match(String(warning?.obj['problem']), /^the key in .*tls\.key does not belong to the certificate/);
      assert.equal(changes.length, 0);
      assert.deepEqual(files.current(), pairOf(a));

      await replaceFile(keyFile, b.key);
      await waitFor(() => changes.length > 0, 'onChange once the key matches');
      assert.deepEqual(files.current(), pairOf(b));
      assertNoKeyMaterial(JSON.stringify(logs));
    });

    it('keeps the old pair when onChange throws', async () => {
      await writePair(a);
      const files = await openWatching({
        onChange: () => {
          throw new Error('setSecureContext refused it');
        },
      });
      await writePair(b);
      await waitFor(() => warnings().some((w) => /could not be applied/.test(String(w.obj['problem']))), 'a warning');
      assert.deepEqual(files.current(), pairOf(a));
    });

    it('picks up a change by polling when no watch event arrives', async () => {
      await writePair(a);
      // A debounce longer than the test: watch events never lead to a read.
      const files = await openWatching({ pollIntervalMs: 25, debounceMs: 60_000 });
      await writePair(b);
      // The look watch() takes at once may race this first change; only the poll can see the second.
      await waitFor(() => changes.length === 1, 'onChange for the first change');
      await writePair(a);
      await waitFor(() => changes.length === 2, 'onChange from the poll');
      assert.deepEqual(files.current(), pairOf(a));
    });

    it('picks up a change made between open and watch without waiting for a poll', async () => {
      await writePair(a);
      const files = await TlsFiles.open(options({ debounceMs: 60_000 }));
      opened.push(files);
      await writePair(b);
      files.watch();
      await waitFor(() => changes.length > 0, 'onChange from the check at watch()');
      assert.deepEqual(files.current(), pairOf(b));
    });

    it('close stops watching and polling', async () => {
      await writePair(a);
      const files = await openWatching({ pollIntervalMs: 20, debounceMs: 5 });
      files.close();
      await writePair(b);
      await pause(100); // five polls and many debounces
      assert.equal(changes.length, 0);
      assert.deepEqual(files.current(), pairOf(a));
    });
  });

  describe('with a real HTTPS server', () => {
    interface Answer {
      readonly body: string;
      readonly fingerprint256: string;
    }

    function get(port: number, ca: string): Promise<Answer> {
      return new Promise((resolve, reject) => {
        const request = https.get({ host: '127.0.0.1', port, path: '/', ca, agent: false }, (res) => {
          const { fingerprint256 } = (res.socket as TLSSocket).getPeerCertificate();
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ body, fingerprint256 }));
          res.on('error', reject);
        });
        request.on('error', reject);
      });
    }

    it('new connections get the replaced certificate after onChange sets the secure context', async () => {
      await writePair(a);
      const server = https.createServer(pairOf(a), (_req, res) => res.end('ok'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = server.address() as AddressInfo;
        await openWatching({
          onChange: (material) => {
            server.setSecureContext(material);
            changes.push(material);
          },
        });
        assert.deepEqual(await get(port, a.caCert), { body: 'ok', fingerprint256: fingerprint(a.cert) });

        await writePair(b);
        await waitFor(() => changes.length > 0, 'onChange after replacing the files');

        assert.deepEqual(await get(port, b.caCert), { body: 'ok', fingerprint256: fingerprint(b.cert) });
        await assert.rejects(get(port, a.caCert), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });
  });
});

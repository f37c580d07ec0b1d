// The serving certificate and key from files, reloaded when they change so a renewed certificate
// (cert-manager, a rotated Secret) is served without a restart. The caller applies each new pair,
// typically with `server.setSecureContext`.
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { messageOf } from '../lib/error-message.js';

/** A certificate (chain) and its private key, PEM. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
}

/** The two log levels used here; a pino logger fits. */
export interface TlsFilesLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface TlsFilesOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** Called with each new valid pair; until it returns without throwing, the old pair stays current. */
  readonly onChange: (material: TlsMaterial) => void;
  readonly log: TlsFilesLog;
  /** How often the files are re-read in case a watch event was missed; 30 s by default. */
  readonly pollIntervalMs?: number;
  /** How long a burst of file events must be quiet before the files are read; 200 ms by default. */
  readonly debounceMs?: number;
}

/** The serving certificate or key cannot be read, or they do not form a pair. */
export class TlsFilesError extends Error {
  readonly reason = 'CertificateUnreadable';
  readonly retryable = false;
  override readonly name = 'TlsFilesError';

  constructor(
    message: string,
    /** The file at fault. */
    readonly file: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

interface ValidPair {
  readonly material: TlsMaterial;
  readonly x509: X509Certificate;
  readonly digest: string;
}

function errorCode(err: unknown): string {
  return err instanceof Error && 'code' in err ? String(err.code) : String(err);
}

function remedy(certFile: string, keyFile: string): string {
  return `mount the serving certificate at ${certFile} and its key at ${keyFile}, or run with --self-signed`;
}

async function readText(file: string, fix: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new TlsFilesError(`cannot read ${file}: ${errorCode(err)}; ${fix}`, file, { cause: err });
  }
}

// Parser errors are dropped, not chained as causes: they are OpenSSL codes that tell the user
// nothing, and nothing derived from the key may reach a message or a log.
function validate(material: TlsMaterial, certFile: string, keyFile: string): X509Certificate {
  const fix = remedy(certFile, keyFile);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(material.cert);
  } catch {
    throw new TlsFilesError(`${certFile} does not hold a PEM X.509 certificate; ${fix}`, certFile);
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(material.key));
  } catch {
    throw new TlsFilesError(`${keyFile} does not hold an unencrypted PEM private key; ${fix}`, keyFile);
  }
  if (!matches) {
    throw new TlsFilesError(`the key in ${keyFile} does not belong to the certificate in ${certFile}; ${fix}`, keyFile);
  }
  return x509;
}

function digestOf(material: TlsMaterial): string {
  return createHash('sha256').update(material.cert).update('\0').update(material.key).digest('hex');
}

async function readMaterial(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const fix = remedy(certFile, keyFile);
  // In turn, not in parallel: with both missing, the message names the certificate every time.
  const cert = await readText(certFile, fix);
  const key = await readText(keyFile, fix);
  return { cert, key };
}

async function readPair(certFile: string, keyFile: string): Promise<ValidPair> {
  const material = await readMaterial(certFile, keyFile);
  return { material, x509: validate(material, certFile, keyFile), digest: digestOf(material) };
}

function describeCertificate(x509: X509Certificate): object {
  return { fingerprint256: x509.fingerprint256, notAfter: x509.validTo, subject: x509.subject };
}

/** The serving pair from two files, watched for changes once {@link TlsFiles.watch} is called. */
export class TlsFiles {
  private pair: ValidPair;
  private readonly watchers: FSWatcher[] = [];
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private checking = false;
  private again = false;
  private closed = false;
  private warned: string | undefined;

  private constructor(
    private readonly options: TlsFilesOptions,
    initial: ValidPair,
  ) {
    this.pair = initial;
  }

  /** Reads and checks the pair; throws {@link TlsFilesError} saying which file is at fault. */
  static async open(options: TlsFilesOptions): Promise<TlsFiles> {
    return new TlsFiles(options, await readPair(options.certFile, options.keyFile));
  }

  /** The pair being served: the last valid one read. */
  current(): TlsMaterial {
    return this.pair.material;
  }

  /**
   * Starts watching. The directories are watched, not the files: a Secret volume updates by
   * swapping its `..data` symlink, which a watch on the old file never reports. A poll backs the
   * watch up, since events can be lost (inotify overflow, some network filesystems).
   */
  watch(): void {
    if (this.closed || this.poll) return;
    const { certFile, keyFile, pollIntervalMs = 30_000 } = this.options;
    for (const dir of new Set([dirname(certFile), dirname(keyFile)])) this.watchDirectory(dir);
    this.poll = setInterval(() => void this.check(), pollIntervalMs).unref();
    // A change between open() and now raised no event anyone heard; look once rather than wait a poll.
    void this.check();
  }

  /** Stops watching; the current pair stays readable. */
  close(): void {
    this.closed = true;
    for (const watcher of this.watchers.splice(0)) watcher.close();
    clearInterval(this.poll);
    clearTimeout(this.debounce);
  }

  private watchDirectory(dir: string): void {
    const stopped = (err: unknown): void =>
      this.options.log.warn(
        { dir, error: errorCode(err) },
        'cannot watch the serving certificate directory; changes are picked up by polling only',
      );
    try {
      const watcher = watch(dir, { persistent: false }, () => this.schedule());
      watcher.on('error', (err) => {
        stopped(err);
        watcher.close();
      });
      this.watchers.push(watcher);
    } catch (err) {
      stopped(err);
    }
  }

  /** A Secret update is a burst of events (new dir, symlink, rename, delete); read once after it. */
  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.check(), this.options.debounceMs ?? 200).unref();
  }

  /** One read at a time; a trigger during a read causes one more, so the last change is never missed. */
  private async check(): Promise<void> {
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.again = false;
        await this.refresh();
      } while (this.again && !this.closed);
    } finally {
      this.checking = false;
    }
  }

  private async refresh(): Promise<void> {
    const { certFile, keyFile } = this.options;
    let material: TlsMaterial;
    try {
      material = await readMaterial(certFile, keyFile);
    } catch (err) {
      this.warnOnce(messageOf(err), 'unreadable');
      return;
    }
    const digest = digestOf(material);
    if (digest === this.pair.digest) {
      this.warned = undefined;
      return;
    }
    let x509: X509Certificate;
    try {
      x509 = validate(material, certFile, keyFile);
    } catch (err) {
      this.warnOnce(messageOf(err), digest);
      return;
    }
    this.apply({ material, x509, digest });
  }

  private apply(next: ValidPair): void {
    if (this.closed) return;
    const { certFile, onChange, log } = this.options;
    try {
      onChange(next.material);
    } catch (err) {
      this.warnOnce(`the new pair could not be applied: ${messageOf(err)}`, next.digest);
      return;
    }
    this.pair = next;
    this.warned = undefined;
    log.info({ certFile, ...describeCertificate(next.x509) }, 'serving certificate reloaded');
  }

  /** Warns about a problem once per content: an unchanged bad pair is not reported at every poll. */
  private warnOnce(problem: string, content: string): void {
    const identity = `${content}\0${problem}`;
    if (this.closed || identity === this.warned) return;
    this.warned = identity;
    const { certFile, keyFile, log } = this.options;
    log.warn(
      { certFile, keyFile, problem, serving: describeCertificate(this.pair.x509) },
      'serving certificate not reloaded; still serving the previous one',
    );
  }
}

// Reading an archive over plain http into a few reused buffers (docs/design.md, "Reading an
// archive over plain http"). Node's http client hands every 64 KiB socket read to JavaScript in a
// buffer of its own; at a gigabyte a second those buffers count as external memory and make V8
// run a full collection every few dozen MiB, which cost a restore-datadir more CPU than the
// download itself. Here the socket reads straight into 1 MiB batches that the consumer hands back
// once written (releaseBatch), and the next reads fill them again. Over https the TLS layer
// allocates per read anyway, so the SDK's own handler keeps those.
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { GetObjectCommand } from '@aws-sdk/client-s3';

/** The size of the chunks the body yields: what one write into a tool's stdin takes best. */
export const BATCH_BYTES = 1024 * 1024;
/** Released batches kept for reuse; more in flight than this are left to the garbage collector. */
const POOL_BATCHES = 4;
/** Where the response head is read, and anything read past the body. */
const HEAD_READ_BYTES = 64 * 1024;
/** A response head larger than this is not an object store's. */
const HEAD_LIMIT = 64 * 1024;
/** An error response's body (S3's XML) is read whole for the SDK to parse, up to this. */
const ERROR_BODY_LIMIT = 1024 * 1024;

type Middleware = Parameters<GetObjectCommand['middlewareStack']['addRelativeTo']>[0];
/** A deserialize-step middleware, in the shape the SDK calls it (its types live in a package of its own). */
type DeserializeMiddleware = (
  next: (args: { request: unknown }) => Promise<unknown>,
) => (args: { request: unknown }) => Promise<unknown>;

/** The parts of the SDK's signed HttpRequest this reads. */
interface SignedRequest {
  readonly protocol: string;
  readonly hostname: string;
  readonly port?: number | undefined;
  readonly method: string;
  readonly path: string;
  readonly query?: Record<string, string | (string | null)[] | null> | undefined;
  readonly headers: Record<string, string>;
}

interface Timeouts {
  readonly connectMs: number;
  readonly idleMs: number;
}

/**
 * Sends this GetObject, once signed, over a socket of its own when the endpoint is plain http; the
 * SDK still builds, signs, retries and deserializes (errors included). `signal` is the send's.
 */
export function readOverSocket(command: GetObjectCommand, timeouts: Timeouts, signal?: AbortSignal): void {
  const middleware: DeserializeMiddleware = (next) => async (args) => {
    const request = args.request as SignedRequest;
    if (request.protocol !== 'http:' || request.method !== 'GET') return next(args);
    try {
      return { response: await socketGet(request, timeouts, signal) };
    } catch (err) {
      // A body this reader does not take (chunked, say): the same signed request, through the SDK.
      if (err instanceof NotLengthDelimited) return next(args);
      throw err;
    }
  };
  command.middlewareStack.addRelativeTo(middleware as unknown as Middleware, {
    name: 'lifeboatSocketRead',
    relation: 'after',
    // Innermost: signed and retried outside, the response parsed by the SDK's deserializer.
    toMiddleware: 'deserializerMiddleware',
  });
}

/**
 * Each chunk a body yielded → its pool and the batch it views. Weak, so that a chunk nobody hands
 * back (a decompressor took it, the reader gave up) is collected with its batch.
 */
const lenders = new WeakMap<Buffer, { readonly body: SocketBody; readonly batch: Buffer }>();

/**
 * Hands a chunk of a socket read's body back once nothing reads it any more (it was written).
 * Any other buffer is ignored. A chunk never handed back is simply collected.
 */
export function releaseBatch(chunk: Buffer): void {
  const lent = lenders.get(chunk);
  if (lent === undefined) return;
  lenders.delete(chunk);
  lent.body.reuse(lent.batch);
}

interface Response {
  readonly statusCode: number;
  readonly reason: string;
  readonly headers: Record<string, string>;
  readonly body: Readable;
}

function socketGet(request: SignedRequest, timeouts: Timeouts, signal: AbortSignal | undefined): Promise<Response> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const requestText = requestHead(request);
    const ranged = Object.keys(request.headers).some((name) => name.toLowerCase() === 'range');
    let head: Buffer = Buffer.alloc(0);
    const readHead = (view: Buffer): boolean => {
      head = Buffer.concat([head, view]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.includes('\n\n'))
          return fail(new Error(`the answer from ${request.hostname} is not HTTP/1.1 (bare LF)`));
        if (head.length > HEAD_LIMIT) return fail(new Error(`the answer head from ${request.hostname} exceeds 64 KiB`));
        return true;
      }
      const parsed = parseHead(head.subarray(0, end).toString('latin1'));
      if (parsed instanceof Error) return fail(parsed);
      const rest = head.subarray(end + 4);
      head = Buffer.alloc(0);
      // 100 Continue, 103 Early Hints: the answer follows.
      if (parsed.statusCode < 200) return rest.length === 0 ? true : readHead(rest);
      return readAnswer(parsed, rest);
    };
    const readAnswer = (parsed: Omit<Response, 'body'>, rest: Buffer): boolean => {
      const isBody = isObjectBody(parsed, ranged);
      if (isBody instanceof Error) return fail(isBody);
      const header = parsed.headers['content-length'];
      const length = header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
      if (isBody) {
        if (length === undefined || parsed.headers['transfer-encoding'] !== undefined) {
          return fail(new NotLengthDelimited());
        }
        const body = new SocketBody(socket, length, timeouts.idleMs);
        waitingForReader = () => body.waitingForReader;
        onBytes = (v) => body.received(v);
        readInto = () => body.target() ?? headBuffer;
        onRead = (n, buf) => (buf === headBuffer ? onBytes(headBuffer.subarray(0, n)) : body.filled(n));
        onEnd = (err) => body.ended(err);
        resolve({ ...parsed, body });
      } else {
        const body = new ErrorBody(length);
        onBytes = (v) => body.received(v, socket);
        onEnd = (err) => (err ? fail(err) : resolve({ ...parsed, body: Readable.from([body.bytes()]) }));
      }
      if (length === 0) socket.destroy();
      return rest.length === 0 ? true : onBytes(rest);
    };
    let onBytes = readHead;
    // Named as Node's own errors are, so that the SDK retries them as it retries its handler's.
    let onEnd: (err: Error | undefined) => void = (err) =>
      fail(err ?? transient(`${request.hostname} closed the connection before answering`, 'ECONNRESET'));
    const fail = (err: Error): false => {
      socket.destroy();
      reject(err);
      onEnd = () => undefined;
      return false;
    };
    // The head is read into a buffer of its own; once a 200's body begins, straight into its batches.
    const headBuffer = Buffer.allocUnsafeSlow(HEAD_READ_BYTES);
    let readInto = (): Buffer => headBuffer;
    let onRead = (n: number, _buf: Uint8Array): boolean => onBytes(headBuffer.subarray(0, n));
    const socket: Socket = connect({
      // The SDK keeps an IPv6 literal in brackets, as the URL has it; a socket wants the address.
      host: request.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: request.port ?? 80,
      onread: { buffer: () => readInto(), callback: (n, buf) => onRead(n, buf) },
    });
    const connectTimer = setTimeout(
      () => socket.destroy(timedOut(`connecting to ${request.hostname}:${request.port ?? 80} timed out`)),
      timeouts.connectMs,
    );
    // Idle only counts while Lifeboat wants bytes: a reader that stops for a while (a slow disk
    // under mbstream) pauses the socket, and the timer starts again when it reads on.
    let waitingForReader = (): boolean => false;
    socket.on('timeout', () => {
      if (waitingForReader()) return;
      socket.destroy(timedOut(`the connection to ${request.hostname} moved no byte for ${timeouts.idleMs / 1000} s`));
    });
    socket.once('connect', () => {
      clearTimeout(connectTimer);
      socket.setTimeout(timeouts.idleMs);
    });
    const onAbort = (): void => void socket.destroy(abortError(signal));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => {
      clearTimeout(connectTimer);
      signal?.removeEventListener('abort', onAbort);
      onEnd(undefined);
    });
    socket.once('error', (err) => onEnd(err));
    socket.write(requestText);
  });
}

/**
 * A 200 whose body is not delimited by a Content-Length (chunked, or a malformed length): read
 * through the SDK's handler instead. MinIO and S3 always send the length; a proxy may not.
 */
class NotLengthDelimited extends Error {
  constructor() {
    super('the object store sent the object without a Content-Length');
    this.name = 'NotLengthDelimited';
  }
}

/**
 * Whether an answer carries the object's bytes: a 200, or a 206 to a range asked for (or a 200
 * from a store that ignores it: the caller checks which bytes came by the Content-Range, as it
 * does for the SDK's reads). Another 2xx is no answer to a GetObject.
 */
function isObjectBody(answer: Omit<Response, 'body'>, ranged: boolean): boolean | Error {
  const { statusCode, reason } = answer;
  if (statusCode === 200 || (ranged && statusCode === 206)) return true;
  if (statusCode < 200 || statusCode >= 300) return false;
  return new Error(`the object store answered ${statusCode} ${reason}, not the whole object`);
}

function transient(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

function timedOut(message: string): Error {
  return Object.assign(new Error(message), { name: 'TimeoutError', code: 'ETIMEDOUT' });
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('the request was aborted');
  err.name = 'AbortError';
  return err;
}

function requestHead(request: SignedRequest): string {
  const query = queryString(request.query ?? {});
  const lines = [`${request.method} ${request.path}${query ? `?${query}` : ''} HTTP/1.1`];
  for (const [name, value] of Object.entries(request.headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new Error(`header ${name} holds a line break`);
    lines.push(`${name}: ${value}`);
  }
  // Not signed (SigV4 leaves connection out), and one request per socket keeps the reader simple.
  lines.push('connection: close', '', '');
  return lines.join('\r\n');
}

/** As the SDK's handler writes it: RFC 3986 escapes, a bare key for a null value. */
function queryString(query: NonNullable<SignedRequest['query']>): string {
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    const values = Array.isArray(value) ? value : [value ?? null];
    for (const v of values) parts.push(v === null ? escape(key) : `${escape(key)}=${escape(v)}`);
  }
  return parts.join('&');
}

function escape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function parseHead(text: string): Omit<Response, 'body'> | Error {
  const [status = '', ...lines] = text.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(status);
  if (!match) return new Error(`the object store answered with "${status.slice(0, 80)}", not an HTTP/1.1 status line`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { statusCode: Number(match[1]), reason: match[2] ?? '', headers };
}

/** A 200's (or a ranged 206's) body: `length` bytes, yielded in 1 MiB batches lent from a small pool. */
export class SocketBody extends Readable {
  /** Why the body ended before its Content-Length, when it did. */
  brokeOff: Error | undefined;
  private readonly free: Buffer[] = [];
  private batch: Buffer | undefined;
  private fill = 0;
  private remaining: number;
  private reading = true;

  constructor(
    private readonly socket: Socket,
    length: number,
    private readonly idleMs: number,
  ) {
    super({ highWaterMark: 2 * BATCH_BYTES });
    this.remaining = length;
    if (length === 0) this.push(null);
  }

  /**
   * Where the next socket read goes: the free end of the batch being filled, no longer than what is
   * still to come (so a read never takes bytes past the body). Undefined once the body is whole.
   */
  target(): Buffer | undefined {
    if (this.remaining === 0 || this.destroyed) return undefined;
    const batch = (this.batch ??= this.free.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES));
    return batch.subarray(this.fill, this.fill + Math.min(BATCH_BYTES - this.fill, this.remaining));
  }

  /** `n` bytes were read into target(); false pauses the socket until the reader wants more. */
  filled(n: number): boolean {
    this.remaining -= n;
    this.fill += n;
    if (this.fill === BATCH_BYTES) this.reading = this.pushBatch() && this.reading;
    return this.remaining === 0 ? this.finish() : this.reading;
  }

  /** Bytes read elsewhere (with the head), copied in; false pauses the socket as filled() does. */
  received(bytes: Buffer): boolean {
    if (this.remaining === 0) return false;
    // What follows the Content-Length is not the object's (the body reads never take it either).
    const view = bytes.subarray(0, this.remaining);
    this.remaining -= view.length;
    let offset = 0;
    while (offset < view.length) {
      const batch = (this.batch ??= this.free.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES));
      const n = view.copy(batch, this.fill, offset);
      offset += n;
      this.fill += n;
      if (this.fill === BATCH_BYTES) this.reading = this.pushBatch() && this.reading;
    }
    return this.remaining === 0 ? this.finish() : this.reading;
  }

  private finish(): false {
    if (this.fill > 0) this.pushBatch();
    this.push(null);
    this.socket.destroy();
    return false;
  }

  /**
   * The connection closed with bytes still to come: what did come is handed on (a batch in part),
   * then the body ends early with `brokeOff` set, not in an error, which would drop what the
   * reader has not taken yet. A reader that resumes the object (archive-resume.ts) thus goes on
   * from the last byte received, and any other sees fewer bytes than the object has.
   */
  ended(err: Error | undefined): void {
    if (this.remaining === 0 || this.destroyed || this.brokeOff) return;
    this.brokeOff = err ?? new Error(`the connection closed with ${this.remaining} bytes of the object still to come`);
    if (this.fill > 0) this.pushBatch();
    this.push(null);
  }

  reuse(batch: Buffer): void {
    if (this.free.length < POOL_BATCHES) this.free.push(batch);
  }

  /** True while the socket is paused because the reader has not taken what it was given. */
  get waitingForReader(): boolean {
    return !this.reading;
  }

  override _read(): void {
    if (this.reading) return;
    this.reading = true;
    this.socket.setTimeout(this.idleMs);
    this.socket.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.socket.destroy();
    callback(err);
  }

  private pushBatch(): boolean {
    const batch = this.batch;
    if (batch === undefined) return true;
    const chunk = batch.subarray(0, this.fill);
    this.batch = undefined;
    this.fill = 0;
    lenders.set(chunk, { body: this, batch });
    return this.push(chunk);
  }
}

/** A non-200's body, gathered for the SDK's error parsing. */
class ErrorBody {
  private readonly parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly length: number | undefined) {}

  received(view: Buffer, socket: Socket): boolean {
    if (this.size < ERROR_BODY_LIMIT) this.parts.push(Buffer.from(view));
    this.size += view.length;
    if (this.done()) socket.destroy();
    return true;
  }

  done(): boolean {
    return this.length !== undefined && this.size >= this.length;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts).subarray(0, this.length ?? ERROR_BODY_LIMIT);
  }
}

// Reading an archive over plain http with a socket of its own, against a small fake object store
// (node:http, answering as S3 does): the bytes and their verdict, the batches handed back and
// reused, S3's errors parsed by the SDK as before, a connection that breaks off, and the
// verifying read, which only hashes.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { createS3Client } from '../../../lib/s3-client.js';
import { openArchive, verifyArchive, type ArchiveSource } from '../../../runner/data-path/archive-download.js';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import {
  BATCH_BYTES,
  readOverSocket,
  releaseBatch,
  SocketBody,
} from '../../../runner/data-path/archive-socket-read.js';
import { ChecksumMismatchError, DownloadFailedError } from '../../../runner/work-failures.js';
import { BUCKET, sampleMetadata } from '../restores/backup-fixtures.js';

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

/** A plain-http server that answers every request with `answer`, and the requests it saw. */
class FakeStore {
  readonly requests: IncomingMessage[] = [];
  readonly sockets = new Set<Socket>();
  private server?: Server;
  answer: Answer = (_req, res) => res.writeHead(500).end();

  async start(host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => {
      this.requests.push(req);
      this.answer(req, res);
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, host, resolve));
    const name = host.includes(':') ? `[${host}]` : host;
    return `http://${name}:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/** V8's collector, to see what a test left reachable. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function source(endpoint: string, archive: Buffer): ArchiveSource {
  const client = createS3Client(
    { bucket: BUCKET, endpoint, insecure: true, forcePathStyle: true, region: 'us-east-1' },
    { credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' } },
  );
  return { client, bucket: BUCKET, metadata: sampleMetadata({ compression: 'none' }, archive) };
}

/** Serves `body` as S3 does, in writes of `piece` bytes. */
function serve(body: Buffer, piece = 50_000): Answer {
  return (_req, res) => {
    res.writeHead(200, { 'content-length': body.length, etag: '"abc"', 'content-type': 'application/octet-stream' });
    for (let at = 0; at < body.length; at += piece) res.write(body.subarray(at, at + piece));
    res.end();
  };
}

/**
 * Serves `body` as S3 does, with an ETag and byte ranges (`bytes=N-`); the first answer's
 * connection (each answer's, with `every`) is closed once `cutAfter` bytes of it were written.
 */
function serveRanges(body: Buffer, cutAfter: number, every = false): Answer {
  let first = true;
  return (req, res) => {
    const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    const part = body.subarray(from);
    const range = req.headers.range ? { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` } : {};
    res.writeHead(req.headers.range ? 206 : 200, { 'content-length': part.length, etag: '"abc"', ...range });
    if ((!first && !every) || part.length <= cutAfter) return void res.end(part);
    first = false;
    res.write(part.subarray(0, cutAfter), () => res.socket?.destroy());
  };
}

function s3ErrorAnswer(status: number, code: string): Answer {
  return (_req, res) => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
    res.end(xml);
  };
}

/** Reads the stream as a tool's stdin would: each chunk copied, then handed back. */
async function consume(stream: Readable, release = true): Promise<{ bytes: Buffer; chunks: Buffer[] }> {
  const copies: Buffer[] = [];
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    copies.push(Buffer.from(chunk));
    if (release) releaseBatch(chunk);
  }
  return { bytes: Buffer.concat(copies), chunks };
}

describe('archive read over a socket of its own (fake plain-http object store)', () => {
  let store: FakeStore;
  let endpoint: string;

  beforeEach(async () => {
    store = new FakeStore();
    endpoint = await store.start();
  });

  afterEach(async () => {
    await store.stop();
  });

  it('yields every byte in 1 MiB batches, verified, and reuses the batches handed back', async () => {
    const archive = randomBytes(5 * BATCH_BYTES + 12_345);
    store.answer = serve(archive);
    const { bytes, chunks } = await consume(openArchive(source(endpoint, archive), { socketRead: true }));
    assert.ok(bytes.equals(archive));
    assert.deepEqual(
      chunks.map((c) => c.length),
      [BATCH_BYTES, BATCH_BYTES, BATCH_BYTES, BATCH_BYTES, BATCH_BYTES, 12_345],
    );
    const memory = new Set(chunks.map((c) => c.buffer));
    assert.ok(memory.size < chunks.length, `batches reused: ${memory.size} buffers for ${chunks.length} chunks`);
    const request = store.requests[0];
    assert.equal(request?.method, 'GET');
    assert.match(request?.headers.authorization ?? '', /^AWS4-HMAC-SHA256 Credential=AKIDFAKE\//);
    assert.equal(request?.headers.connection, 'close');
  });

  it('a consumer slower than the socket still gets each lent batch alone, never two gathered into a copy', async () => {
    const archive = randomBytes(24 * BATCH_BYTES + 3);
    store.answer = serve(archive);
    const chunks: Buffer[] = [];
    const copies: Buffer[] = [];
    const stream = openArchive(source(endpoint, archive), { socketRead: true });
    // As a tool's stdin takes them: one chunk at a time, each written a while later.
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      copies.push(Buffer.from(chunk));
      stream.pause();
      setTimeout(() => {
        releaseBatch(chunk);
        stream.resume();
      }, 15);
    });
    await new Promise((resolve, reject) => stream.once('end', resolve).once('error', reject));
    assert.ok(Buffer.concat(copies).equals(archive));
    assert.deepEqual(
      chunks.map((c) => c.length),
      [...Array.from({ length: 24 }, () => BATCH_BYTES), 3],
    );
    const memory = new Set(chunks.map((c) => c.buffer));
    assert.ok(memory.size <= 8, `batches reused: ${memory.size} buffers for ${chunks.length} chunks`);
  });

  it('a consumer that hands nothing back still gets every byte, in batches of their own', async () => {
    const archive = randomBytes(3 * BATCH_BYTES);
    store.answer = serve(archive);
    const { bytes, chunks } = await consume(openArchive(source(endpoint, archive), { socketRead: true }), false);
    assert.ok(bytes.equals(archive));
    assert.equal(new Set(chunks.map((c) => c.buffer)).size, chunks.length);
    for (const [i, chunk] of chunks.entries()) {
      assert.ok(chunk.equals(archive.subarray(i * BATCH_BYTES, (i + 1) * BATCH_BYTES)), `chunk ${i} intact`);
    }
  });

  it('batches never handed back are collected, not kept until the end', async () => {
    const gc = collector();
    const archive = randomBytes(64 * BATCH_BYTES);
    store.answer = serve(archive, 1024 * 1024);
    const read = openArchive(source(endpoint, archive), { socketRead: true });
    const seen: WeakRef<Buffer>[] = [];
    let alive = -1;
    for await (const chunk of read as AsyncIterable<Buffer>) {
      seen.push(new WeakRef(chunk));
      if (seen.length === 48) {
        // A WeakRef is cleared by a collection in a later job than the one that last read it.
        await new Promise((resolve) => setImmediate(resolve));
        gc();
        await new Promise((resolve) => setImmediate(resolve));
        alive = seen.slice(0, 40).filter((ref) => ref.deref() !== undefined).length;
      }
    }
    assert.equal(seen.length, 64);
    assert.equal(alive, 0, `${alive} of the first 40 batches still reachable after 48 read`);
  });

  it('a compressed archive is read by the SDK (a decompressor hands nothing back)', async () => {
    const plain = randomBytes(100_000);
    const archive = gzipSync(plain);
    store.answer = serve(archive);
    const src = source(endpoint, archive);
    const gz = { ...src, metadata: { ...src.metadata, compression: 'gzip' as const } };
    const { bytes } = await consume(openArchive(gz, { socketRead: true }));
    assert.ok(bytes.equals(plain));
    assert.notEqual(store.requests[0]?.headers.connection, 'close');
  });

  it('a connection closed before the answer is retried, as the SDK retries its own', async () => {
    const archive = randomBytes(BATCH_BYTES + 5);
    let first = true;
    store.answer = (req, res) => {
      if (first) {
        first = false;
        req.socket.destroySoon();
        return;
      }
      serve(archive)(req, res);
    };
    const { bytes } = await consume(openArchive(source(endpoint, archive), { socketRead: true }));
    assert.ok(bytes.equals(archive));
    assert.equal(store.requests.length, 2);
  });

  it('100 Continue before the answer is skipped; a 206 is refused as not the whole object', async () => {
    const archive = randomBytes(BATCH_BYTES + 9);
    store.answer = (_req, res) => {
      res.socket?.write('HTTP/1.1 100 Continue\r\n\r\n');
      serve(archive)(_req, res);
    };
    const { bytes } = await consume(openArchive(source(endpoint, archive), { socketRead: true }));
    assert.ok(bytes.equals(archive));
    store.answer = (_req, res) => {
      res.writeHead(206, { 'content-length': 10, 'content-range': `bytes 0-9/${archive.length}` });
      res.end(archive.subarray(0, 10));
    };
    await assert.rejects(consume(openArchive(source(endpoint, archive), { socketRead: true })), (err: unknown) => {
      assert.ok(err instanceof DownloadFailedError, String(err));
      assert.match(err.message, /answered 206 Partial Content, not the whole object/);
      return true;
    });
  });

  it('a flipped byte is still ChecksumMismatch', async () => {
    const archive = randomBytes(2 * BATCH_BYTES);
    const bad = Buffer.from(archive);
    bad[BATCH_BYTES + 7] = (bad[BATCH_BYTES + 7] ?? 0) ^ 1;
    store.answer = serve(bad);
    await assert.rejects(consume(openArchive(source(endpoint, archive), { socketRead: true })), (err: unknown) => {
      assert.ok(err instanceof ChecksumMismatchError, String(err));
      assert.ok(err.message.includes(createHash('sha256').update(bad).digest('hex')));
      return true;
    });
  });

  it('a read again of a verified archive (pinned by ETag) that differs says so, not "nothing was applied"', async () => {
    const archive = randomBytes(2 * BATCH_BYTES);
    const bad = Buffer.from(archive);
    bad[5] = (bad[5] ?? 0) ^ 1;
    store.answer = serve(bad);
    const read = openArchive(source(endpoint, archive), { socketRead: true, etag: '"abc"' });
    await assert.rejects(consume(read), (err: unknown) => {
      assert.ok(err instanceof ChecksumMismatchError, String(err));
      assert.match(err.message, /read again had SHA-256 [0-9a-f]{64}, not the [0-9a-f]{64} it had when verified/);
      assert.doesNotMatch(err.message, /nothing was applied/);
      return true;
    });
  });

  it('verifyArchive reads over a socket of its own too: the digest, then a flipped byte', async () => {
    const archive = randomBytes(6 * BATCH_BYTES + 99);
    store.answer = serve(archive);
    const verified = await verifyArchive(source(endpoint, archive));
    assert.equal(verified.sha256, createHash('sha256').update(archive).digest('hex'));
    assert.equal(verified.size, archive.length);
    assert.equal(verified.etag, '"abc"');
    assert.equal(store.requests[0]?.headers.connection, 'close', 'read over a socket of its own');
    const bad = Buffer.from(archive);
    bad[3 * BATCH_BYTES] = (bad[3 * BATCH_BYTES] ?? 0) ^ 1;
    store.answer = serve(bad);
    await assert.rejects(verifyArchive(source(endpoint, archive)), ChecksumMismatchError);
  });

  it("S3's errors are parsed by the SDK as before: a missing archive, an archive replaced since", async () => {
    const archive = randomBytes(1000);
    store.answer = s3ErrorAnswer(404, 'NoSuchKey');
    await assert.rejects(consume(openArchive(source(endpoint, archive), { socketRead: true })), (err: unknown) => {
      assert.ok(err instanceof DownloadFailedError, String(err));
      assert.match(err.message, /is missing: the backup is incomplete or was deleted/);
      return true;
    });
    store.answer = s3ErrorAnswer(412, 'PreconditionFailed');
    const read = openArchive(source(endpoint, archive), { socketRead: true, etag: '"abc"' });
    await assert.rejects(consume(read), /the archive changed since it was verified/);
    assert.equal(store.requests.at(-1)?.headers['if-match'], '"abc"');
  });

  it('a connection that breaks off mid-body, from a store that gives no ETag: DownloadFailed saying how much was still to come', async () => {
    const archive = randomBytes(3 * BATCH_BYTES);
    store.answer = (_req, res) => {
      res.writeHead(200, { 'content-length': archive.length });
      res.write(archive.subarray(0, BATCH_BYTES + 100), () => res.socket?.destroy());
    };
    await assert.rejects(consume(openArchive(source(endpoint, archive), { socketRead: true })), (err: unknown) => {
      assert.ok(err instanceof DownloadFailedError, String(err));
      assert.match(err.message, /broke off: the connection closed with \d+ bytes of the object still to come/);
      return true;
    });
    assert.equal(store.requests.length, 1, 'not resumed: without an ETag the rest could be of another object');
  });

  it('a connection that breaks off mid-body is resumed from the last byte received, over a socket of its own, pinned by ETag', async () => {
    const archive = randomBytes(3 * BATCH_BYTES + 7);
    store.answer = serveRanges(archive, BATCH_BYTES + 100);
    const { bytes, chunks } = await consume(
      openArchive(source(endpoint, archive), { etag: '"abc"', socketRead: true }),
    );
    assert.ok(bytes.equals(archive), 'every byte once, in order');
    // The 100 bytes past the first batch are handed on in a batch of their own, not read again.
    assert.deepEqual(
      store.requests.map((r) => [r.headers.range, r.headers['if-match'], r.headers.connection]),
      [
        [undefined, '"abc"', 'close'],
        [`bytes=${BATCH_BYTES + 100}-`, '"abc"', 'close'],
      ],
    );
    assert.deepEqual(
      chunks.map((c) => c.length),
      [BATCH_BYTES, 100, BATCH_BYTES, BATCH_BYTES - 100 + 7],
    );
  });

  it('a link that breaks every 300 kB goes on 300 kB at a time, never losing what came (socket and SDK reads alike)', async () => {
    const archive = randomBytes(2 * BATCH_BYTES + 11);
    store.answer = serveRanges(archive, 300_000, true);
    const verified = await verifyArchive(source(endpoint, archive));
    assert.equal(verified.sha256, createHash('sha256').update(archive).digest('hex'));
    const starts = store.requests.map((r) => Number(/^bytes=(\d+)-$/.exec(r.headers.range ?? '')?.[1] ?? 0));
    assert.deepEqual(
      starts,
      Array.from({ length: Math.ceil(archive.length / 300_000) }, (_, i) => i * 300_000),
    );
    const plain = randomBytes(BATCH_BYTES);
    const gz = gzipSync(plain);
    store.answer = serveRanges(gz, 300_000, true);
    const src = source(endpoint, gz);
    const told: string[] = [];
    const { bytes } = await consume(
      openArchive(
        { ...src, metadata: { ...src.metadata, compression: 'gzip' } },
        { socketRead: true, onResume: (r) => told.push(r.cause) },
      ),
    );
    assert.ok(bytes.equals(plain));
    // Node's client says "aborted" when a body breaks off, which reads like a cancel.
    assert.ok(
      told.length > 0 && told.every((c) => c === 'the connection closed before the end of the object'),
      told.join(),
    );
  });

  it('verifying and a compressed archive (read by the SDK) are resumed the same way', async () => {
    const archive = randomBytes(3 * BATCH_BYTES + 7);
    store.answer = serveRanges(archive, BATCH_BYTES + 100);
    const verified = await verifyArchive(source(endpoint, archive));
    assert.equal(verified.sha256, createHash('sha256').update(archive).digest('hex'));
    assert.deepEqual(
      store.requests.map((r) => [r.headers.range, r.headers['if-match']]),
      [
        [undefined, undefined],
        [`bytes=${BATCH_BYTES + 100}-`, '"abc"'],
      ],
    );
    const plain = randomBytes(2 * BATCH_BYTES);
    const gz = gzipSync(plain);
    store.requests.length = 0;
    store.answer = serveRanges(gz, 300_000);
    const src = source(endpoint, gz);
    const { bytes } = await consume(
      openArchive({ ...src, metadata: { ...src.metadata, compression: 'gzip' } }, { socketRead: true }),
    );
    assert.ok(bytes.equals(plain));
    // Node's http client drops what it held when the connection breaks: the rest starts at the last byte taken.
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(store.requests[1]?.headers.range ?? '')?.[1]);
    assert.ok(resumedAt > 0 && resumedAt <= 300_000, `resumed at ${store.requests[1]?.headers.range}`);
  });

  it('an answer without a Content-Length (chunked, or a malformed length) is read again by the SDK', async () => {
    const archive = randomBytes(3 * BATCH_BYTES + 5);
    for (const headers of [{ 'transfer-encoding': 'chunked' }, { 'content-length': '12abc' }]) {
      store.requests.length = 0;
      store.answer = (req, res) => {
        if (req.headers.connection === 'close') {
          res.writeHead(200, headers);
          res.end(headers['content-length'] === undefined ? archive : undefined);
          return;
        }
        serve(archive)(req, res);
      };
      const { bytes } = await consume(openArchive(source(endpoint, archive), { socketRead: true }));
      assert.ok(bytes.equals(archive), JSON.stringify(headers));
      assert.deepEqual(
        store.requests.map((r) => r.headers.connection),
        ['close', 'keep-alive'],
        'first over its own socket, then through the SDK',
      );
      assert.equal(store.requests[1]?.headers.authorization, store.requests[0]?.headers.authorization);
    }
  });

  it('an IPv6 literal endpoint is reached over its own socket too', async () => {
    const archive = randomBytes(2 * BATCH_BYTES);
    const v6 = new FakeStore();
    const url = await v6.start('::1');
    try {
      v6.answer = serve(archive);
      const { bytes } = await consume(openArchive(source(url, archive), { socketRead: true }));
      assert.ok(bytes.equals(archive));
      assert.equal(v6.requests[0]?.headers.connection, 'close');
    } finally {
      await v6.stop();
    }
  });

  it('a head that arrives in pieces is read whole', async () => {
    const archive = randomBytes(BATCH_BYTES + 3);
    store.answer = (_req, res) => {
      const socket = res.socket;
      if (!socket) return;
      socket.write(`HTTP/1.1 200 OK\r\ncontent-le`);
      setTimeout(() => socket.write(`ngth: ${archive.length}\r\netag: "abc"\r\n\r\n`), 20);
      setTimeout(() => socket.end(archive), 40);
    };
    const { bytes } = await consume(openArchive(source(endpoint, archive), { socketRead: true }));
    assert.ok(bytes.equals(archive));
  });

  for (const size of [10, BATCH_BYTES + 3]) {
    it(`bytes past the Content-Length are not taken for the object's (${size} bytes)`, async () => {
      const archive = randomBytes(size);
      store.answer = (_req, res) => {
        const head = `HTTP/1.1 200 OK\r\ncontent-length: ${archive.length}\r\n\r\n`;
        res.socket?.end(Buffer.concat([Buffer.from(head), archive, Buffer.from('not part of the object')]));
      };
      const { bytes } = await consume(openArchive(source(endpoint, archive), { socketRead: true }));
      assert.ok(bytes.equals(archive));
    });
  }

  describe('the idle timeout', () => {
    const timeouts = { connectMs: 1000, idleMs: 300 };

    async function body(src: ArchiveSource): Promise<Readable> {
      const command = new GetObjectCommand({ Bucket: src.bucket, Key: src.metadata.objectKey });
      readOverSocket(command, timeouts);
      return (await src.client.send(command)).Body as Readable;
    }

    it('a reader that stops for longer than it, then reads on, gets every byte', async () => {
      const archive = randomBytes(16 * BATCH_BYTES);
      store.answer = serve(archive);
      const parts: Buffer[] = [];
      for await (const chunk of (await body(source(endpoint, archive))) as AsyncIterable<Buffer>) {
        parts.push(Buffer.from(chunk));
        releaseBatch(chunk);
        if (parts.length === 1) await new Promise((resolve) => setTimeout(resolve, 1200));
      }
      assert.ok(Buffer.concat(parts).equals(archive));
    });

    it('a store that stops sending while the reader waits still times out', async () => {
      const archive = randomBytes(16 * BATCH_BYTES);
      store.answer = (_req, res) => {
        res.writeHead(200, { 'content-length': archive.length });
        res.write(archive.subarray(0, 2 * BATCH_BYTES));
      };
      const started = Date.now();
      const read = await body(source(endpoint, archive));
      // What came is handed on, then the body ends early saying why (a resuming reader goes on from there).
      const { bytes } = await consume(read);
      assert.ok(bytes.equals(archive.subarray(0, 2 * BATCH_BYTES)));
      assert.ok(read instanceof SocketBody);
      assert.equal(read.brokeOff?.name, 'TimeoutError');
      assert.match(read.brokeOff?.message ?? '', /moved no byte for 0.3 s/);
      assert.ok(Date.now() - started < 5000);
    });
  });

  it('a stopped restore closes the connection', async () => {
    const archive = randomBytes(4 * BATCH_BYTES);
    store.answer = (_req, res) => {
      res.writeHead(200, { 'content-length': archive.length });
      res.write(archive.subarray(0, BATCH_BYTES * 2));
    };
    const stop = new AbortController();
    const read = openArchive(source(endpoint, archive), { socketRead: true, signal: stop.signal });
    const iterator = (read as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    await iterator.next();
    stop.abort();
    await assert.rejects(iterator.next(), /was cancelled/);
    const deadline = Date.now() + 2000;
    while (store.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(store.sockets.size, 0);
  });

  it('an unreachable store: DownloadFailed from the SDK as before', async () => {
    const archive = randomBytes(10);
    const src = source(endpoint, archive);
    await store.stop();
    await assert.rejects(consume(openArchive(src, { socketRead: true })), (err: unknown) => {
      assert.ok(err instanceof DownloadFailedError, String(err));
      assert.match(err.message, /ECONNREFUSED|refused|reach/i);
      return true;
    });
    store = new FakeStore();
    endpoint = await store.start();
  });
});

// Verifying and streaming an archive back with a fake S3: a flipped byte, a truncated or missing
// object, an object replaced between the reads, a read that breaks off and is resumed, and a gzip
// round trip.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import * as zlibModule from 'node:zlib';
import { gzipSync } from 'node:zlib';
import type { BackupMetadataType } from '../../../crds/backup-metadata-types.js';
import type { Compression } from '../../../crds/object-keys.js';
import { createLogger, type Logger } from '../../../lib/logger.js';
import {
  assertDecompressionSupported,
  openArchive,
  RESUMES_WITHOUT_PROGRESS,
  verifyArchive,
  type ArchiveSource,
  type ResumedRead,
} from '../../../runner/data-path/archive-download.js';
import { ChecksumMismatchError, DownloadFailedError, UnsupportedMethodError } from '../../../runner/work-failures.js';
import { BUCKET, sampleMetadata, sha256 } from '../restores/backup-fixtures.js';
import { FakeS3, s3Error } from './fake-s3.js';

// Several fake-S3 chunks, so that the checks run over a stream and not one buffer.
const SQL = Buffer.from(`-- dump\n${'INSERT INTO t VALUES (1);\n'.repeat(8000)}`);

function stored(fake: FakeS3, archive: Buffer, compression: Compression = 'none'): ArchiveSource {
  const metadata: BackupMetadataType = sampleMetadata({ compression }, archive);
  fake.objects.set(`${BUCKET}/${metadata.objectKey}`, { body: archive, input: {} });
  return { client: fake.client(), bucket: BUCKET, metadata };
}

function replace(fake: FakeS3, src: ArchiveSource, body: Buffer): void {
  fake.objects.set(`${BUCKET}/${src.metadata.objectKey}`, { body, input: {} });
}

/** Everything the stream gave, and how it ended. */
async function drain(stream: Readable): Promise<{ bytes: Buffer; error?: unknown }> {
  const parts: Buffer[] = [];
  try {
    for await (const chunk of stream) parts.push(chunk as Buffer);
    return { bytes: Buffer.concat(parts) };
  } catch (error) {
    return { bytes: Buffer.concat(parts), error };
  }
}

function flipped(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = (copy[at] ?? 0) ^ 0x01;
  return copy;
}

describe('archive download (fake S3)', () => {
  it('verifies an intact archive: its size, SHA-256 and ETag, with progress', async () => {
    const fake = new FakeS3();
    const src = stored(fake, SQL);
    const seen: number[] = [];
    const verified = await verifyArchive(src, { onProgress: (n) => seen.push(n) });
    assert.deepEqual({ ...verified, etag: undefined }, { etag: undefined, sha256: sha256(SQL), size: SQL.length });
    assert.match(verified.etag ?? '', /^"[0-9a-f]{32}"$/);
    assert.equal(seen[seen.length - 1], SQL.length);
    assert.ok(seen.length > 1, 'progress per chunk');
  });

  it('a flipped byte: ChecksumMismatchError with both hashes and that nothing was applied', async () => {
    const fake = new FakeS3();
    const src = stored(fake, SQL);
    const bad = flipped(SQL, 70_000);
    replace(fake, src, bad);
    await assert.rejects(verifyArchive(src), (err: unknown) => {
      assert.ok(err instanceof ChecksumMismatchError, String(err));
      assert.ok(err.message.includes(`has SHA-256 ${sha256(bad)} but metadata.json records ${sha256(SQL)}`));
      assert.match(err.message, /nothing was applied/);
      return true;
    });
  });

  it('a truncated archive: ChecksumMismatchError on the size, before a byte is hashed', async () => {
    const fake = new FakeS3();
    const src = stored(fake, SQL);
    replace(fake, src, SQL.subarray(0, 1000));
    const seen: number[] = [];
    await assert.rejects(
      verifyArchive(src, { onProgress: (n) => seen.push(n) }),
      new RegExp(`is 1000 bytes but metadata.json records ${SQL.length}; the archive is truncated`),
    );
    assert.deepEqual(seen, []);
  });

  it('a body longer than its Content-Length said: stopped as soon as it overflows', async () => {
    const fake = new FakeS3();
    const src = stored(fake, SQL);
    replace(fake, src, Buffer.concat([SQL, randomBytes(100_000)]));
    // A store that lies in Content-Length (or sends none): the count catches it.
    const client = src.client;
    const send = client.send.bind(client);
    client.send = (async (command: unknown, options?: unknown) => {
      const got = await (send as (c: unknown, o?: unknown) => Promise<Record<string, unknown>>)(command, options);
      return { ...got, ContentLength: undefined };
    }) as unknown as typeof client.send;
    await assert.rejects(verifyArchive(src), ChecksumMismatchError);
  });

  describe('a read that breaks off', () => {
    /** Every GetObject's input; the bodies of those `breaks` picks break after `after` bytes. */
    function breaking(
      src: ArchiveSource,
      breaks: (call: number) => boolean,
      after = 40_000,
    ): Record<string, unknown>[] {
      const client = src.client;
      const send = client.send.bind(client) as (c: unknown, o?: unknown) => Promise<Record<string, unknown>>;
      const inputs: Record<string, unknown>[] = [];
      client.send = (async (command: { input: Record<string, unknown> }, options?: unknown) => {
        inputs.push(command.input);
        const got = await send(command, options);
        if (!breaks(inputs.length)) return got;
        const body = got['Body'] as AsyncIterable<Buffer>;
        // The bytes up to the break are all delivered, then the reset, as a socket does.
        const broken = Readable.from(
          (async function* () {
            let passed = 0;
            for await (const chunk of body) {
              const part = chunk.subarray(0, Math.max(0, after - passed));
              passed += part.length;
              if (part.length > 0) yield part;
              if (passed >= after) throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
            }
          })(),
          { objectMode: false },
        );
        return { ...got, Body: broken };
      }) as unknown as typeof client.send;
      return inputs;
    }

    function logged(): { log: Logger; lines: Record<string, unknown>[] } {
      const lines: Record<string, unknown>[] = [];
      const log = createLogger('test', { write: (line: string) => void lines.push(JSON.parse(line)) });
      return { log, lines };
    }

    it('is resumed from the byte where it stopped, pinned to the verified object, and says so', async () => {
      const fake = new FakeS3();
      const src = stored(fake, SQL);
      const inputs = breaking(src, (call) => call === 1);
      const { log, lines } = logged();
      const etag = (await verifyArchive(stored(fake, SQL))).etag ?? '';
      const told: ResumedRead[] = [];
      const { bytes, error } = await drain(openArchive(src, { etag, log, onResume: (r) => told.push(r) }));
      assert.equal(error, undefined);
      assert.ok(bytes.equals(SQL), 'every byte once, in order');
      assert.deepEqual(
        inputs.map((i) => [i['Range'], i['IfMatch']]),
        [
          [undefined, etag],
          ['bytes=40000-', etag],
        ],
      );
      const warned = lines.find(
        (l) => l['msg'] === 'reading the archive broke off; resuming it from the byte where it stopped',
      );
      assert.equal(warned?.['at'], 40_000);
      assert.equal(warned?.['size'], SQL.length);
      assert.equal(warned?.['err'], 'read ECONNRESET');
      assert.deepEqual(told, [
        {
          at: 40_000,
          size: SQL.length,
          cause: 'read ECONNRESET',
          message: `reading s3://${BUCKET}/${src.metadata.objectKey} broke off at byte 40000 of ${SQL.length} (read ECONNRESET); it goes on from there, pinned to the same object`,
        },
      ]);
    });

    it('verifying is resumed too, pinned to the ETag of its first answer; gzip is decompressed across the break', async () => {
      const fake = new FakeS3();
      const gz = gzipSync(SQL);
      const src = stored(fake, gz, 'gzip');
      const half = Math.floor(gz.length / 2);
      const inputs = breaking(src, (call) => call === 1 || call === 3, half);
      const verified = await verifyArchive(src);
      assert.equal(verified.sha256, sha256(gz));
      const { bytes, error } = await drain(openArchive(src, { etag: verified.etag ?? '' }));
      assert.equal(error, undefined);
      assert.ok(bytes.equals(SQL));
      assert.deepEqual(
        inputs.map((i) => [i['Range'], i['IfMatch']]),
        [
          [undefined, undefined],
          [`bytes=${half}-`, verified.etag],
          [undefined, verified.etag],
          [`bytes=${half}-`, verified.etag],
        ],
      );
    });

    it('breaks that gain no byte end it: DownloadFailedError saying where and how often, not the raw socket error', async () => {
      const fake = new FakeS3();
      const src = stored(fake, SQL);
      // The first answer gives 40,000 bytes; every later one breaks before its first.
      const inputs = breaking(src, () => true, 40_000);
      let call = 0;
      const send = src.client.send.bind(src.client) as (c: unknown, o?: unknown) => Promise<Record<string, unknown>>;
      src.client.send = (async (command: unknown, options?: unknown) => {
        call++;
        const got = await send(command, options);
        if (call === 1) return got;
        const broken = new PassThrough();
        (got['Body'] as Readable).destroy();
        setImmediate(() => broken.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })));
        return { ...got, Body: broken };
      }) as unknown as typeof src.client.send;
      const { error } = await drain(openArchive(src));
      assert.ok(error instanceof DownloadFailedError, String(error));
      assert.equal(
        error.message,
        `reading s3://${BUCKET}/${src.metadata.objectKey} broke off at byte 40000 of ${SQL.length} 3 times in a row ` +
          'without a byte gained (read ECONNRESET); check the object store and the network, then retry',
      );
      assert.equal(inputs.length, 1 + RESUMES_WITHOUT_PROGRESS + 1, 'the first read, then each resumption');
    });

    it('an object replaced before the rest was read: DownloadFailedError saying it changed while it was read', async () => {
      const fake = new FakeS3();
      const src = stored(fake, SQL);
      const inputs = breaking(src, (call) => call === 1);
      const send = src.client.send.bind(src.client) as (c: unknown, o?: unknown) => Promise<unknown>;
      src.client.send = (async (command: unknown, options?: unknown) => {
        if (inputs.length === 1) replace(fake, src, flipped(SQL, 5));
        return send(command, options);
      }) as unknown as typeof src.client.send;
      const { error } = await drain(openArchive(src));
      assert.ok(error instanceof DownloadFailedError, String(error));
      assert.match(
        error.message,
        /was replaced while it was read \(its ETag changed after byte 40000 of \d+\); leave the backup unchanged/,
      );
    });

    it('a store that ignores the range: DownloadFailedError saying it must serve byte ranges', async () => {
      const fake = new FakeS3();
      const src = stored(fake, SQL);
      breaking(src, (call) => call === 1);
      const send = src.client.send.bind(src.client) as (
        c: { input: Record<string, unknown> },
        o?: unknown,
      ) => Promise<unknown>;
      src.client.send = ((command: { input: Record<string, unknown> }, options?: unknown) => {
        delete command.input['Range'];
        return send(command, options);
      }) as unknown as typeof src.client.send;
      const { error } = await drain(openArchive(src));
      assert.ok(error instanceof DownloadFailedError, String(error));
      assert.equal(
        error.message,
        `reading s3://${BUCKET}/${src.metadata.objectKey} broke off at byte 40000 of ${SQL.length}, and the object store ` +
          `answered the read from there with ${SQL.length} bytes, no range, not bytes 40000-${SQL.length - 1}/${SQL.length}: ` +
          'check that the store serves byte ranges, then retry',
      );
    });

    /** Wraps the client's send: `answer(call, input, send)` decides each call's outcome. */
    function around(
      src: ArchiveSource,
      answer: (
        call: number,
        input: Record<string, unknown>,
        send: () => Promise<Record<string, unknown>>,
      ) => Promise<Record<string, unknown>>,
    ): void {
      const send = src.client.send.bind(src.client) as (c: unknown, o?: unknown) => Promise<Record<string, unknown>>;
      let call = 0;
      src.client.send = ((command: { input: Record<string, unknown> }, options?: unknown) =>
        answer(++call, command.input, () => send(command, options))) as unknown as typeof src.client.send;
    }

    it('an answer to the resumption from another object (a store that ignored If-Match): refused as replaced', async () => {
      const fake = new FakeS3();
      const src = stored(fake, SQL);
      breaking(src, (call) => call === 1);
      around(src, async (call, _input, send) => (call === 2 ? { ...(await send()), ETag: '"another"' } : send()));
      const { error } = await drain(openArchive(src));
      assert.ok(error instanceof DownloadFailedError, String(error));
      assert.match(
        error.message,
        /was replaced while it was read \(its ETag changed after byte 40000 of \d+\); .*or choose another backup if it was overwritten$/,
      );
    });

    it('a Content-Range whose total is not the archive size is refused', async () => {
      const fake = new FakeS3();
      const src = stored(fake, SQL);
      breaking(src, (call) => call === 1);
      const wrong = `bytes 40000-${SQL.length - 1}/${SQL.length + 777}`;
      around(src, async (call, _input, send) => (call === 2 ? { ...(await send()), ContentRange: wrong } : send()));
      const { error } = await drain(openArchive(src));
      assert.ok(error instanceof DownloadFailedError, String(error));
      assert.match(error.message, new RegExp(`answered the read from there with ${wrong}, not bytes 40000-`));
    });

    it('a request for the rest that fails for a while (the store restarting) is sent again after a wait', async () => {
      const fake = new FakeS3();
      const src = stored(fake, SQL);
      const inputs = breaking(src, (call) => call === 1);
      const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9000'), { code: 'ECONNREFUSED' });
      const asked: unknown[] = [];
      around(src, (call, input, send) => {
        asked.push(input['Range']);
        return call === 2 || call === 3 ? Promise.reject(down) : send();
      });
      const { log, lines } = logged();
      const { bytes, error } = await drain(openArchive(src, { log, retryDelaysMs: [5, 5, 5] }));
      assert.equal(error, undefined);
      assert.ok(bytes.equals(SQL));
      assert.deepEqual(asked, [undefined, 'bytes=40000-', 'bytes=40000-', 'bytes=40000-']);
      assert.deepEqual(
        inputs.map((i) => i['Range']),
        [undefined, 'bytes=40000-'],
        'the store saw the first read and the one that got through',
      );
      const retried = lines.filter((l) => l['msg'] === 'asking for the rest of the archive failed; asking again');
      assert.equal(retried.length, 2);
    });

    it('a store that stays away: DownloadFailedError saying where it broke off and how often the rest was asked for', async () => {
      const fake = new FakeS3();
      const src = stored(fake, SQL);
      breaking(src, (call) => call === 1);
      const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9000'), { code: 'ECONNREFUSED' });
      around(src, (call, _input, send) => (call === 1 ? send() : Promise.reject(down)));
      const { error } = await drain(openArchive(src, { retryDelaysMs: [5, 5] }));
      assert.ok(error instanceof DownloadFailedError, String(error));
      assert.match(
        error.message,
        new RegExp(
          `^reading s3://${BUCKET}/\\S+ broke off at byte 40000 of ${SQL.length} \\(read ECONNRESET\\), and asking for ` +
            'the rest failed 3 times over 0 s \\(last: connection refused\\): check that the object store is running ' +
            'and reachable, then retry$',
        ),
      );
      assert.doesNotMatch(error.message, /fix spec\.objectStore\.endpoint/, 'the endpoint worked for the first part');
    });

    it('a restore stopped while it waits to ask for the rest says it was cancelled, not that the store stayed away', async () => {
      const fake = new FakeS3();
      const src = stored(fake, SQL);
      breaking(src, (call) => call === 1);
      const stop = new AbortController();
      const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9000'), { code: 'ECONNREFUSED' });
      let asked = 0;
      around(src, (call, _input, send) => {
        if (call === 1) return send();
        asked++;
        setImmediate(() => stop.abort(new Error('SIGTERM')));
        return Promise.reject(down);
      });
      const { error } = await drain(openArchive(src, { signal: stop.signal, retryDelaysMs: [60_000] }));
      assert.ok(error instanceof Error, String(error));
      assert.doesNotMatch(error.message, /asking for the rest failed/);
      assert.match(error.message, /was cancelled/);
      assert.equal(asked, 1, 'not asked again once stopped');
    });

    it('a request for the rest that is refused (403) is not sent again', async () => {
      const fake = new FakeS3();
      const src = stored(fake, SQL);
      const inputs = breaking(src, (call) => call === 1);
      around(src, (call, _input, send) => (call === 2 ? Promise.reject(s3Error('AccessDenied', 403)) : send()));
      const { error } = await drain(openArchive(src, { retryDelaysMs: [5, 5] }));
      assert.ok(error instanceof DownloadFailedError, String(error));
      assert.match(error.message, /AccessDenied|access denied|Access Denied/i);
      assert.equal(inputs.length, 1, 'the refused request never reached the store: only the first GET did');
    });

    it('a link that breaks every few KiB still completes; the log warns for the first 10 resumptions, then one in 100', async () => {
      const fake = new FakeS3();
      const src = stored(fake, SQL);
      breaking(src, () => true, 1000);
      const { log, lines } = logged();
      let resumed = 0;
      const { bytes, error } = await drain(openArchive(src, { log, onResume: () => resumed++ }));
      assert.equal(error, undefined);
      assert.ok(bytes.equals(SQL));
      assert.equal(resumed, Math.ceil(SQL.length / 1000) - 1);
      const warned = lines.filter((l) => String(l['msg']).startsWith('reading the archive broke off'));
      assert.deepEqual(
        warned.map((l) => l['resumes']),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100, 200],
      );
    });

    it('an archive whose store gives no ETag is not resumed: its parts could be of different objects', async () => {
      const fake = new FakeS3();
      const src = stored(fake, SQL);
      const inputs = breaking(src, () => true);
      const send = src.client.send.bind(src.client) as (c: unknown, o?: unknown) => Promise<Record<string, unknown>>;
      src.client.send = (async (command: unknown, options?: unknown) => ({
        ...(await send(command, options)),
        ETag: undefined,
      })) as unknown as typeof src.client.send;
      const { error } = await drain(openArchive(src));
      assert.ok(error instanceof DownloadFailedError, String(error));
      assert.match(error.message, /broke off: read ECONNRESET; check the object store, then retry$/);
      assert.equal(inputs.length, 1);
    });
  });

  it('a reader that stops early stops the download', async () => {
    const fake = new FakeS3();
    const src = stored(fake, SQL);
    const client = src.client;
    const send = client.send.bind(client) as (c: unknown, o?: unknown) => Promise<Record<string, unknown>>;
    let body: Readable | undefined;
    client.send = (async (command: unknown, options?: unknown) => {
      const got = await send(command, options);
      body = got['Body'] as Readable;
      return got;
    }) as unknown as typeof client.send;
    const stream = openArchive(src);
    await new Promise((resolve) => stream.once('readable', resolve));
    stream.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(body?.destroyed, 'the S3 body is released');
  });

  it('a missing archive: DownloadFailedError saying so', async () => {
    const fake = new FakeS3();
    const src = stored(fake, SQL);
    fake.objects.delete(`${BUCKET}/${src.metadata.objectKey}`);
    await assert.rejects(verifyArchive(src), (err: unknown) => {
      assert.ok(err instanceof DownloadFailedError);
      assert.match(
        err.message,
        /^archive s3:\/\/lifeboat\/p\/shop\/.*backup\.sql is missing: the backup is incomplete/,
      );
      return true;
    });
  });

  it('access denied: DownloadFailedError explaining what to fix', async () => {
    const fake = new FakeS3();
    const src = stored(fake, SQL);
    fake.fault = () => s3Error('AccessDenied', 403);
    await assert.rejects(verifyArchive(src), /^DownloadFailedError: reading s3:.* failed: access denied to bucket/);
  });

  it('gzip round trip: openArchive gives back the dump as it was', async () => {
    const fake = new FakeS3();
    const src = stored(fake, gzipSync(SQL), 'gzip');
    const { etag } = await verifyArchive(src);
    const { bytes, error } = await drain(openArchive(src, etag === undefined ? {} : { etag }));
    assert.equal(error, undefined);
    assert.ok(bytes.equals(SQL));
  });

  it('raw: the stored bytes, not decompressed', async () => {
    const fake = new FakeS3();
    const gz = gzipSync(SQL);
    const src = stored(fake, gz, 'gzip');
    const { bytes } = await drain(openArchive(src, { raw: true }));
    assert.ok(bytes.equals(gz));
  });

  it('the archive replaced after it was verified: DownloadFailedError, nothing streamed', async () => {
    const fake = new FakeS3();
    const src = stored(fake, SQL);
    const { etag } = await verifyArchive(src);
    replace(fake, src, flipped(SQL, 5));
    const { bytes, error } = await drain(openArchive(src, etag === undefined ? {} : { etag }));
    assert.ok(error instanceof DownloadFailedError, String(error));
    assert.match(error.message, /^the archive changed since it was verified/);
    assert.equal(bytes.length, 0);
  });

  it('openArchive streams a damaged archive and errors at its end with ChecksumMismatchError, never ending cleanly', async () => {
    const fake = new FakeS3();
    const src = stored(fake, SQL);
    replace(fake, src, flipped(SQL, SQL.length - 1));
    const { bytes, error } = await drain(openArchive(src));
    assert.ok(error instanceof ChecksumMismatchError, String(error));
    assert.ok(bytes.length > 0 && bytes.length <= SQL.length, 'bytes flowed before the verdict');
  });

  it('a gzip archive replaced by another valid gzip: ChecksumMismatchError at the end', async () => {
    const fake = new FakeS3();
    // Level 0 stores the data as is, so both archives are the same size.
    const src = stored(fake, gzipSync(SQL, { level: 0 }), 'gzip');
    const other = gzipSync(Buffer.from(SQL.toString().replace('(1)', '(2)')), { level: 0 });
    assert.equal(other.length, src.metadata.size, 'same size, so only the hash tells');
    replace(fake, src, other);
    const { error } = await drain(openArchive(src));
    assert.ok(error instanceof ChecksumMismatchError, String(error));
  });

  it('an abort signal stops openArchive with DownloadFailedError', async () => {
    const fake = new FakeS3();
    const src = stored(fake, SQL);
    const stop = new AbortController();
    const stream = openArchive(src, { signal: stop.signal });
    stop.abort();
    const { error } = await drain(stream);
    assert.ok(error instanceof DownloadFailedError, String(error));
    assert.match(error.message, /was cancelled/);
  });

  it('zstd without zlib support: UnsupportedMethodError saying what to do', function () {
    if (typeof (zlibModule as { createZstdDecompress?: unknown }).createZstdDecompress === 'function') {
      assert.doesNotThrow(() => assertDecompressionSupported('zstd'));
      return;
    }
    assert.throws(() => assertDecompressionSupported('zstd'), UnsupportedMethodError);
    assert.throws(() => assertDecompressionSupported('zstd'), /needs Node\.js >= 22\.15 .* zstd -d/);
  });
});

// toolInput, the Writable into the extractor's stdin, against a fake stdin that records how it
// was written to (no tool is started here; datadir-restore.test.ts runs the real mbstream).
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { toolInput } from '../../../runner/restores/datadir-extract.js';

const KiB = 1024;
const MiB = 1024 * KiB;

interface FakeStdin {
  readonly stdin: Writable;
  /** Bytes per write call the fake received (a writev counts once). */
  readonly writes: number[];
  /** Every byte, in order. */
  readonly received: () => Buffer;
  readonly ended: () => boolean;
}

/** A stdin that takes each write after `delayMs`, as a tool that reads at its own pace. */
function fakeStdin(delayMs = 0): FakeStdin {
  const writes: number[] = [];
  const parts: Buffer[] = [];
  let ended = false;
  const later = (done: () => void): void => {
    if (delayMs === 0) done();
    else setTimeout(done, delayMs);
  };
  const stdin = new Writable({
    write(chunk: Buffer, _enc, done): void {
      writes.push(chunk.length);
      parts.push(chunk);
      later(done);
    },
    writev(chunks, done): void {
      writes.push(chunks.reduce((n, c) => n + (c.chunk as Buffer).length, 0));
      for (const c of chunks) parts.push(c.chunk as Buffer);
      later(done);
    },
    final(done): void {
      ended = true;
      done();
    },
  });
  return { stdin, writes, received: () => Buffer.concat(parts), ended: () => ended };
}

/** `count` chunks of `size` bytes, each filled with its index, as a socket would give them. */
function chunks(count: number, size: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.alloc(size, i % 251));
}

describe('toolInput (into a fake tool stdin)', () => {
  it('hands 64 KiB chunks to the tool in writes of 1 MiB, every byte in order, then ends its stdin', async () => {
    const fake = fakeStdin();
    const input = chunks(40, 64 * KiB);
    await pipeline(Readable.from(input), toolInput(fake.stdin));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(fake.received(), Buffer.concat(input));
    assert.deepEqual(fake.writes, [MiB, MiB, 8 * 64 * KiB]);
    assert.equal(fake.ended(), true);
  });

  it('holds the archive back while the tool has more than a batch still to take', async () => {
    const fake = fakeStdin(5);
    const input = toolInput(fake.stdin);
    let callbacks = 0;
    const write = (chunk: Buffer): Promise<void> =>
      new Promise((resolve) =>
        input.write(chunk, () => {
          callbacks++;
          resolve();
        }),
      );
    for (const c of chunks(15, 64 * KiB)) await write(c);
    assert.equal(callbacks, 15, 'under a batch nothing waits');
    const sixteenth = write(Buffer.alloc(64 * KiB));
    const seventeenth = write(Buffer.alloc(64 * KiB));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(callbacks, 15, 'the full batch waits for the tool to take it');
    await Promise.all([sixteenth, seventeenth]);
    assert.equal(fake.writes[0], MiB);
    input.end();
  });

  it('drops the rest once the tool has closed its stdin, and still finishes, so the archive is read to its end', async () => {
    const fake = fakeStdin();
    let first = true;
    const source = Readable.from(
      (function* (): Generator<Buffer> {
        for (const c of chunks(40, 64 * KiB)) {
          yield c;
          if (first) {
            first = false;
            fake.stdin.destroy();
          }
        }
      })(),
    );
    await pipeline(source, toolInput(fake.stdin));
    assert.equal(fake.ended(), false);
  });

  it('with no stdin at all, takes and drops every chunk', async () => {
    await pipeline(Readable.from(chunks(20, 64 * KiB)), toolInput(null));
  });
});

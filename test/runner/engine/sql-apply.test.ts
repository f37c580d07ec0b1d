// Applying SQL through the client, with small shell scripts standing in for the mariadb client
// (fake client): what reaches its stdin, what is logged, and how each way of failing is reported.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createLogger, type Logger } from '../../../lib/logger.js';
import { staticInstances } from '../../../runner/engine/instance-list.js';
import { applySql, type ApplyOptions } from '../../../runner/engine/sql-apply.js';
import {
  ChecksumMismatchError,
  ConnectionFailedError,
  DownloadFailedError,
  ApplyFailedError,
  DumpFailedError,
  TimeoutError,
} from '../../../runner/work-failures.js';

const PASSWORD = 'hunter2-s3cret';
const TRAILER = '\n-- Dump completed on 2025-01-01 00:00:00\n';
const [instance] = staticInstances([{ name: 'db-1', host: '127.0.0.1', port: 3306 }]);

let dir = '';

/** A fake client: `body` runs under /bin/sh with $D the test's directory. */
function fakeClient(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\nD='${dir}'\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

function capture(): { logger: Logger; text: () => string } {
  const lines: string[] = [];
  const logger = createLogger('test', { write: (msg: string) => void lines.push(msg) });
  logger.level = 'debug';
  return { logger, text: () => lines.join('') };
}

function options(toolPath: string, input: Readable, extra: Partial<ApplyOptions> = {}): ApplyOptions {
  return {
    instance: instance!,
    engine: 'mariadb',
    credentials: { user: 'lifeboat', password: PASSWORD },
    input,
    log: capture().logger,
    toolPath,
    ...extra,
  };
}

/** Yields `chunks`, then fails with `err` (a download whose checksum turned out wrong at its end). */
function failingInput(chunks: string[], err: Error): Readable {
  return Readable.from(
    (async function* () {
      for (const c of chunks) yield Buffer.from(c);
      await new Promise((r) => setTimeout(r, 100)); // let the client read what came so far
      throw err;
    })(),
  );
}

/** Never ends: pushes `first`, then nothing. */
function idleInput(first: string): Readable {
  const input = new Readable({ read: () => undefined });
  input.push(first);
  return input;
}

describe('sql apply (fake client)', () => {
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lifeboat-apply-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('streams the SQL byte for byte, password only in a private option file, stderr logged scrubbed, payload never', async () => {
    const tool = fakeClient(
      'mariadb',
      [
        'cat > "$D/got"; printf "%s\\n" "$@" > "$D/args"; f="${1#--defaults-file=}"',
        '[ "$f" != "$1" ] && { cat "$f" > "$D/optfile"; echo "$f" > "$D/optpath"; stat -c "%a" "$f" "$(dirname "$f")" > "$D/modes"; }',
        '[ -n "${MYSQL_PWD+set}" ] && echo set > "$D/mysqlpwd"',
        `echo "Warning: ${PASSWORD} used" >&2`,
      ].join('\n'),
    );
    const sql = Buffer.concat([
      Buffer.from("INSERT INTO t VALUES ('payload-x', _binary '"),
      Buffer.from([0, 10, 13, 255, 92]),
      Buffer.from(`');${TRAILER}`),
    ]);
    const { logger, text } = capture();
    const result = await applySql(options(tool, Readable.from([sql]), { log: logger }));
    assert.equal(result.bytes, sql.length);
    assert.deepEqual(readFileSync(join(dir, 'got')), sql);
    assert.equal(existsSync(join(dir, 'mysqlpwd')), false, 'MYSQL_PWD was set for the client');
    assert.equal(readFileSync(join(dir, 'optfile'), 'utf8'), `[client]\npassword="${PASSWORD}"\n`);
    assert.equal(readFileSync(join(dir, 'modes'), 'utf8').replace(/\s+/g, ' ').trim(), '600 700');
    assert.equal(existsSync(readFileSync(join(dir, 'optpath'), 'utf8').trim()), false, 'option file left behind');
    const args = readFileSync(join(dir, 'args'), 'utf8');
    assert.ok(!args.includes(PASSWORD), 'password in argv');
    assert.match(args, /--binary-mode/);
    assert.doesNotMatch(args, /--force/);
    assert.match(text(), /Warning: \[redacted\] used/);
    assert.ok(!text().includes(PASSWORD), 'password in the log');
    assert.ok(!text().includes('payload-x'), 'payload in the log');
  });

  it('a slow client still gets every byte, the last ones included', async () => {
    const tool = fakeClient('mariadb', 'sleep 0.5; cat > "$D/got"');
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(15000, 65 + (i % 26)));
    const sql = Buffer.concat([...chunks, Buffer.from(TRAILER)]);
    await applySql(options(tool, Readable.from([...chunks, Buffer.from(TRAILER)])));
    assert.deepEqual(readFileSync(join(dir, 'got')), sql);
  });

  it('onWritten gets each chunk once the client took it; a chunk filled again then does not spoil the dump check', async () => {
    const tool = fakeClient('mariadb', 'cat > "$D/got"');
    const body = Buffer.alloc(300_000, 'x');
    const last = Buffer.from(`${'y'.repeat(1000)}${TRAILER}`);
    const sent = Buffer.concat([body, last]);
    const written: Buffer[] = [];
    const onWritten = (chunk: Buffer): void => {
      written.push(chunk);
      // As a reader that lends its buffers does: the memory is reused at once.
      chunk.fill(0);
    };
    const input = Readable.from(
      (async function* () {
        yield body;
        yield last;
        // The input ends only after the last chunk was written and reused.
        await new Promise((r) => setTimeout(r, 200));
      })(),
    );
    const result = await applySql(options(tool, input, { onWritten }));
    assert.equal(result.bytes, sent.length);
    assert.equal(written.length, 2);
    assert.ok(written[0] === body && written[1] === last, 'the chunks themselves, in order');
    assert.ok(written.every((chunk) => chunk.every((byte) => byte === 0)));
    assert.ok(readFileSync(join(dir, 'got')).equals(sent), 'the client got the bytes as they were before reuse');
  });

  it('a failed statement → ApplyFailedError quoting the client, saying the target may be partially restored', async () => {
    const tool = fakeClient(
      'mariadb',
      `cat > /dev/null; echo "ERROR 1064 (42000) at line 7: You have an error near 'x'" >&2; exit 1`,
    );
    await assert.rejects(applySql(options(tool, Readable.from([`SELEC 1;${TRAILER}`]))), (err: unknown) => {
      assert.ok(err instanceof ApplyFailedError);
      assert.match(err.message, /^mariadb stopped at the first failed statement: ERROR 1064 \(42000\) at line 7: /);
      assert.match(
        err.message,
        /the target db-1 \(127\.0\.0\.1:3306\) may be partially restored: .*spec\.overwrite: true/,
      );
      return true;
    });
  });

  it('cannot connect → ConnectionFailedError, nothing applied, with the fix', async () => {
    const tool = fakeClient(
      'mariadb',
      `echo "ERROR 1045 (28000): Access denied for user 'lifeboat'@'10.0.0.9'" >&2; exit 1`,
    );
    await assert.rejects(applySql(options(tool, Readable.from([`x;${TRAILER}`]))), (err: unknown) => {
      assert.ok(err instanceof ConnectionFailedError);
      assert.match(err.message, /cannot connect to db-1 .*nothing was applied; check the username and password/);
      return true;
    });
  });

  it('the connection lost half-way → ConnectionFailedError that says partially restored', async () => {
    const tool = fakeClient(
      'mariadb',
      'cat > /dev/null; echo "ERROR 2013 (HY000) at line 90: Lost connection to server during query" >&2; exit 1',
    );
    await assert.rejects(
      applySql(options(tool, Readable.from([`x;${TRAILER}`]))),
      (err: unknown) =>
        err instanceof ConnectionFailedError && /at line 90.*may be partially restored/.test(err.message),
    );
  });

  it('an input error: the client is killed before its stdin closes, and the input error is the one reported', async () => {
    // A client that reads end-of-file runs its last buffered statement (here: COMMIT); one killed does not.
    const tool = fakeClient('mariadb', 'cat > "$D/got"; touch "$D/eof"');
    const input = failingInput(
      ['START TRANSACTION;\nINSERT INTO t VALUES (2);\nCOMMIT'],
      new ChecksumMismatchError('sha256 differs from metadata.json'),
    );
    await assert.rejects(applySql(options(tool, input)), (err: unknown) => {
      assert.ok(err instanceof ChecksumMismatchError, String(err));
      assert.match(
        err.message,
        /^sha256 differs from metadata\.json; the SQL client was stopped before .* may be partially restored/,
      );
      return true;
    });
    assert.ok(!existsSync(join(dir, 'eof')), 'the client read end-of-file');
  });

  it('an input error that is no WorkFailure → DownloadFailedError', async () => {
    const tool = fakeClient('mariadb', 'cat > /dev/null');
    await assert.rejects(
      applySql(options(tool, failingInput(['x'], new Error('unexpected end of file')))),
      (err: unknown) =>
        err instanceof DownloadFailedError && /reading the backup failed: unexpected end of file/.test(err.message),
    );
  });

  it('an input that fails before its first byte says nothing was applied, not "partially restored"', async () => {
    const tool = fakeClient('mariadb', 'cat > /dev/null');
    const changed = new DownloadFailedError('the archive changed since it was verified');
    await assert.rejects(applySql(options(tool, failingInput([], changed))), (err: unknown) => {
      assert.ok(err instanceof DownloadFailedError, String(err));
      assert.match(
        err.message,
        /the archive changed since it was verified; no byte reached the SQL client, so nothing was applied$/,
      );
      assert.doesNotMatch(err.message, /partially/);
      return true;
    });
  });

  it('SQL without the closing "-- Dump completed" line is a truncated dump: refused before end-of-file', async () => {
    const tool = fakeClient('mariadb', 'cat > "$D/got"; touch "$D/eof"');
    await assert.rejects(
      applySql(options(tool, Readable.from(['CREATE TABLE t (a INT);\nINSERT INTO t VALUES (1)']))),
      (err: unknown) => err instanceof DumpFailedError && /dump is incomplete.*partially restored/.test(err.message),
    );
    assert.ok(!existsSync(join(dir, 'eof')), 'the client read end-of-file');
  });

  it('an abort stops the client while the input is idle; the abort reason is kept', async () => {
    const tool = fakeClient('mariadb', 'exec cat > /dev/null');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new TimeoutError('the restore took longer than 1h')), 100);
    const started = Date.now();
    await assert.rejects(
      applySql(options(tool, idleInput('INSERT 1;'), { signal: controller.signal })),
      (err: unknown) =>
        err instanceof TimeoutError &&
        /longer than 1h; the SQL client was killed; .*partially restored/.test(err.message),
    );
    assert.ok(Date.now() - started < 5000);
  });

  it('an abort after the whole input was handed over still stops a client that is applying it', async () => {
    // The client has every byte but is still busy (a long statement): the stop must reach it.
    const tool = fakeClient('mariadb', 'cat > /dev/null; exec sleep 30');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('Restore deleted')), 300);
    const started = Date.now();
    await assert.rejects(
      applySql(options(tool, Readable.from([Buffer.from(`INSERT 1;${TRAILER}`)]), { signal: controller.signal })),
      (err: unknown) =>
        err instanceof ApplyFailedError && /the restore was stopped \(Restore deleted\)/.test(err.message),
    );
    assert.ok(Date.now() - started < 5000, 'stopped at once, not after the client finished');
  });

  it('a client that ignores SIGTERM is killed after the grace period', async () => {
    const tool = fakeClient('mariadb', "trap '' TERM; exec cat > /dev/null");
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('Restore deleted')), 50);
    await assert.rejects(
      applySql(options(tool, idleInput('x'), { signal: controller.signal, killGraceMs: 200 })),
      (err: unknown) =>
        err instanceof ApplyFailedError && /the restore was stopped \(Restore deleted\)/.test(err.message),
    );
  });

  it('already aborted: the client never starts and nothing was applied', async () => {
    const tool = fakeClient('mariadb', 'touch "$D/started"; cat > /dev/null');
    await assert.rejects(
      applySql(options(tool, Readable.from(['x']), { signal: AbortSignal.abort(new Error('stop')) })),
      /nothing was applied/,
    );
    assert.ok(!existsSync(join(dir, 'started')));
  });

  it('a client that fails early stops the copy: an endless input is not read to its end', async () => {
    const tool = fakeClient(
      'mariadb',
      'head -c 100000 > /dev/null; echo "ERROR 1146 (42S02) at line 3: Table t does not exist" >&2; exit 1',
    );
    let produced = 0;
    const endless = new Readable({
      read(): void {
        produced += 65536;
        this.push(Buffer.alloc(65536, 0x41));
      },
    });
    await assert.rejects(applySql(options(tool, endless)), ApplyFailedError);
    assert.ok(produced < 64 * 1024 * 1024, `read ${produced} bytes of input`);
  });

  it('a missing client binary → ApplyFailedError saying nothing was applied', async () => {
    await assert.rejects(
      applySql(options(join(dir, 'no-such-client'), Readable.from([`x;${TRAILER}`]))),
      (err: unknown) =>
        err instanceof ApplyFailedError && /could not be started.*nothing was applied/.test(err.message),
    );
  });
});

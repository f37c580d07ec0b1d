// The tool as a child process, with small shell scripts standing in for the real tools (fake tool).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../../lib/logger.js';
import { isNoteworthy, spawnTool, type ToolProcessOptions } from '../../../runner/engine/tool-process.js';
import { DumpFailedError, TimeoutError } from '../../../runner/work-failures.js';

const PASSWORD = 'hunter2-s3cret';

interface Captured {
  logger: Logger;
  lines: Record<string, unknown>[];
}

function capture(): Captured {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('test', {
    write(msg: string): void {
      lines.push(JSON.parse(msg) as Record<string, unknown>);
    },
  });
  logger.level = 'debug';
  return { logger, lines };
}

function shTool(script: string, logger: Logger, extra: Partial<ToolProcessOptions> = {}): ReturnType<typeof spawnTool> {
  return spawnTool({
    name: 'fake-dump',
    binary: '/bin/sh',
    args: ['-c', script],
    env: { PATH: process.env['PATH'] ?? '', MYSQL_PWD: PASSWORD },
    secrets: [PASSWORD],
    logger,
    ...extra,
  });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString();
}

describe('tool process (fake tool)', () => {
  it('exit 0: stdout is the payload, stderr lines are logged scrubbed, the payload never', async () => {
    const { logger, lines } = capture();
    const tool = shTool(
      'printf "%s-%s\\n" payload bytes; echo "note: using $MYSQL_PWD" >&2; echo "[ERROR] bad" >&2',
      logger,
    );
    assert.equal(await readAll(tool.stdout), 'payload-bytes\n');
    assert.deepEqual(await tool.exit, { code: 0, signal: null });
    const logged = JSON.stringify(lines);
    assert.ok(!logged.includes(PASSWORD), 'password in the log');
    assert.ok(!logged.includes('payload-bytes'), 'payload in the log');
    const stderr = lines.filter((l) => l['msg'] === 'tool stderr');
    assert.deepEqual(
      stderr.map((l) => [l['level'], l['line']]),
      [
        [20, 'note: using [redacted]'],
        [40, '[ERROR] bad'],
      ],
    );
  });

  it('the password reaches the tool through its environment, never its arguments', async () => {
    const { logger } = capture();
    const tool = shTool('printf %s "$MYSQL_PWD" | wc -c', logger);
    assert.equal((await readAll(tool.stdout)).trim(), String(PASSWORD.length));
    await tool.exit;
  });

  it('non-zero exit → DumpFailedError with the code and the last stderr lines, scrubbed', async () => {
    const { logger } = capture();
    const tool = shTool(
      'for i in 1 2 3 4 5 6 7 8 9 10; do echo "line $i" >&2; done; echo "Access denied (pw $MYSQL_PWD)" >&2; exit 3',
      logger,
    );
    await readAll(tool.stdout);
    await assert.rejects(tool.exit, (err: unknown) => {
      assert.ok(err instanceof DumpFailedError);
      assert.match(err.message, /^fake-dump exited with code 3; last output: line 4 \| .* \| line 10 \| Access denied/);
      assert.ok(!err.message.includes(PASSWORD));
      assert.ok(err.message.includes('[redacted]'));
      return true;
    });
  });

  it('a binary that cannot start → DumpFailedError', async () => {
    const { logger } = capture();
    const tool = spawnTool({ name: 'nope', binary: '/nonexistent/tool', args: [], env: {}, secrets: [], logger });
    tool.stdout.resume();
    await assert.rejects(
      tool.exit,
      (err: unknown) => err instanceof DumpFailedError && /could not be started/.test(err.message),
    );
  });

  it('abort → SIGTERM; the exit rejects with the abort reason when it is a WorkFailure', async () => {
    const { logger } = capture();
    const controller = new AbortController();
    const tool = shTool('exec sleep 30', logger, { signal: controller.signal });
    tool.stdout.resume();
    const reason = new TimeoutError('deadline passed');
    setTimeout(() => controller.abort(reason), 50);
    const started = Date.now();
    await assert.rejects(tool.exit, (err: unknown) => err === reason);
    assert.ok(Date.now() - started < 5_000);
  });

  it('a tool that exits 0 on SIGTERM still rejects: the work was stopped, not completed', async () => {
    const { logger } = capture();
    const controller = new AbortController();
    const tool = shTool('trap "exit 0" TERM; echo ready >&2; while :; do sleep 0.1; done', logger, {
      signal: controller.signal,
    });
    tool.stdout.resume();
    setTimeout(() => controller.abort('SIGTERM to the worker'), 100);
    await assert.rejects(tool.exit, (err: unknown) => {
      assert.ok(err instanceof DumpFailedError);
      assert.match(
        err.message,
        /fake-dump exited with code 0 because the backup was stopped \(SIGTERM to the worker\)/,
      );
      return true;
    });
  });

  it('a tool that ignores SIGTERM is killed with SIGKILL after the grace period', async () => {
    const { logger } = capture();
    const controller = new AbortController();
    const tool = shTool('trap "" TERM; echo ready >&2; exec sleep 30', logger, {
      signal: controller.signal,
      killGraceMs: 200,
    });
    tool.stdout.resume();
    setTimeout(() => controller.abort('SIGTERM to the worker'), 100);
    await assert.rejects(tool.exit, (err: unknown) => {
      assert.ok(err instanceof DumpFailedError);
      assert.match(
        err.message,
        /fake-dump was killed by SIGKILL because the backup was stopped \(SIGTERM to the worker\)/,
      );
      return true;
    });
  });

  it('stdout is not read away from its consumer: a large payload arrives whole', async () => {
    const { logger } = capture();
    const tool = shTool('head -c 5000000 /dev/zero', logger);
    let size = 0;
    await new Promise<void>((resolve, reject) => {
      tool.stdout
        .pipe(
          new Writable({
            write(chunk: Buffer, _enc, cb): void {
              size += chunk.length;
              setImmediate(cb);
            },
          }),
        )
        .on('finish', resolve)
        .on('error', reject);
    });
    await tool.exit;
    assert.equal(size, 5_000_000);
  });
});

describe('tool stderr lines', () => {
  const cases: [string, boolean][] = [
    ['[01] 2026-11-30 18:34:39 Streaming ./sys/statements_with_errors_or_warnings.frm to <STDOUT>', false],
    ['[01] 2026-11-30 18:34:39 Copying ./mysql/failed_logins.ibd to /tmp/x', false],
    ['[00] 2026-11-30 18:34:39 Error: failed to read redo log', true],
    ["mariadb-dump: Got error: 1045: Access denied for user 'lifeboat'", true],
    ['[00] 2026-11-30 18:34:39 completed OK!', false],
  ];
  for (const [line, noteworthy] of cases) {
    it(`${noteworthy ? 'warns on' : 'keeps at debug'}: ${line.slice(0, 60)}`, () => {
      assert.equal(isNoteworthy(line), noteworthy);
    });
  }
});

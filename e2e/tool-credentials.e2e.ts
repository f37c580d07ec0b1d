// How the real backup tools get the password, on the stack's standalone MariaDB: only from the
// private option file named by their first argument. A ~/.my.cnf that the tools would choke on is
// not read, and neither the process's arguments nor its environment hold the password.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupMethod } from '../crds/api-constants.js';
import { createLogger } from '../lib/logger.js';
import { startBackupTool } from '../runner/engine/backup-tool.js';
import { connectInstance } from '../runner/engine/db-connection.js';
import { credentials, standalone } from './support/databases.js';

/** The tool's argv and environment as /proc shows them to anyone of the same user. */
function procView(pid: number): { cmdline: string; environ: string } {
  const read = (what: string): string => readFileSync(`/proc/${pid}/${what}`).toString('utf8').replace(/\0/g, '\n');
  return { cmdline: read('cmdline'), environ: read('environ') };
}

async function drain(stream: NodeJS.ReadableStream): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return bytes;
}

describe('tool credentials (real mariadb-dump and mariabackup, standalone MariaDB)', function () {
  this.timeout(120_000);
  let home = '';
  let savedHome: string | undefined;

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'lifeboat-e2e-home-'));
    // Read, this would stop every tool ("unknown variable") or point it elsewhere.
    writeFileSync(
      join(home, '.my.cnf'),
      '[client]\nnot-an-option-from-home-my-cnf=1\nport=1\n[mariabackup]\nnot-an-option-either=1\n',
    );
    savedHome = process.env['HOME'];
    process.env['HOME'] = home;
  });
  afterEach(() => {
    if (savedHome === undefined) delete process.env['HOME'];
    else process.env['HOME'] = savedHome;
    rmSync(home, { recursive: true, force: true });
  });

  for (const method of ['mariadb-dump', 'mariabackup'] as BackupMethod[]) {
    it(`${method}: ~/.my.cnf is not read; the password is in neither argv nor the environment`, async () => {
      const creds = credentials();
      const connection = await connectInstance(standalone(), creds);
      const logger = createLogger('e2e', { write: () => undefined });
      try {
        const run = await startBackupTool({
          method,
          engine: 'mariadb',
          topology: 'standalone',
          instance: standalone(),
          credentials: creds,
          connection,
          logger,
        });
        assert.ok(run.pid !== undefined, 'the tool did not start');
        const seen = procView(run.pid);
        const bytes = drain(run.stdout);
        await run.done;
        assert.ok((await bytes) > 0, 'the tool wrote nothing');
        assert.ok(!seen.cmdline.includes(creds.password), 'the password is in the arguments');
        assert.ok(!seen.environ.includes(creds.password), 'the password is in the environment');
        assert.doesNotMatch(seen.environ, /^MYSQL_PWD=/m);
        assert.match(seen.cmdline.split('\n')[1] ?? '', /^--defaults-file=/);
      } finally {
        await connection.close();
      }
    });
  }
});

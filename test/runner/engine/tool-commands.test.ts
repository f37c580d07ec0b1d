// The tools' command lines, environments and lookup: no secret in an argument, the right flags
// per engine, a missing binary named.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupMethod, Engine } from '../../../crds/api-constants.js';
import { staticInstances } from '../../../runner/engine/instance-list.js';
import {
  archiveFormat,
  checkMethod,
  clientArgs,
  findClient,
  findTool,
  toolArgs,
  tlsArgs,
  toolEnv,
  type CommandInput,
} from '../../../runner/engine/tool-commands.js';
import { UnsupportedMethodError } from '../../../runner/work-failures.js';

const [instance] = staticInstances([{ name: 'db', host: '10.0.0.5', port: 3307 }]);
const OPTIONS = '/tmp/lifeboat-tool-x/client.cnf';
const base = { instance: instance!, user: 'lifeboat', options: { optionsFile: OPTIONS } };

const argCases: { title: string; input: CommandInput; want: string[] }[] = [
  {
    title: 'mariadb-dump on MariaDB: consistent, GTID and binlog position as comments, everything',
    input: { ...base, method: 'mariadb-dump', engine: 'mariadb' },
    want: [
      `--defaults-file=${OPTIONS}`,
      '--host=10.0.0.5',
      '--port=3307',
      '--user=lifeboat',
      '--protocol=TCP',
      '--single-transaction',
      '--gtid',
      '--master-data=2',
      '--routines',
      '--events',
      '--triggers',
      '--all-databases',
    ],
  },
  {
    title: 'mysqldump on MySQL: --source-data=2, no MariaDB-only flags',
    input: { ...base, method: 'mysqldump', engine: 'mysql' },
    want: [
      `--defaults-file=${OPTIONS}`,
      '--host=10.0.0.5',
      '--port=3307',
      '--user=lifeboat',
      '--single-transaction',
      '--source-data=2',
      '--routines',
      '--events',
      '--triggers',
      '--all-databases',
    ],
  },
  {
    title: 'mariabackup on a Galera member: xbstream, scratch dir, datadir, --galera-info',
    input: {
      ...base,
      method: 'mariabackup',
      engine: 'mariadb',
      datadir: '/var/lib/mysql/',
      targetDir: '/tmp/x',
      galera: true,
    },
    want: [
      `--defaults-file=${OPTIONS}`,
      '--backup',
      '--stream=xbstream',
      '--target-dir=/tmp/x',
      '--datadir=/var/lib/mysql/',
      '--host=10.0.0.5',
      '--port=3307',
      '--user=lifeboat',
      '--protocol=TCP',
      '--galera-info',
    ],
  },
  {
    title: 'xtrabackup on a MySQL replica: --slave-info',
    input: { ...base, method: 'xtrabackup', engine: 'mysql', datadir: '/d', targetDir: '/t', replica: true },
    want: [
      `--defaults-file=${OPTIONS}`,
      '--backup',
      '--stream=xbstream',
      '--target-dir=/t',
      '--datadir=/d',
      '--host=10.0.0.5',
      '--port=3307',
      '--user=lifeboat',
      '--slave-info',
    ],
  },
];

describe('tool commands', () => {
  for (const c of argCases) {
    it(c.title, () => assert.deepEqual(toolArgs(c.input), c.want));
  }

  it('the SQL client on MariaDB: only our option file, TCP, binary mode, no --force, no password', () => {
    assert.deepEqual(clientArgs({ ...base, engine: 'mariadb' }), [
      `--defaults-file=${OPTIONS}`,
      '--host=10.0.0.5',
      '--port=3307',
      '--user=lifeboat',
      '--protocol=TCP',
      '--binary-mode',
      '--max-allowed-packet=1073741824',
    ]);
  });

  it('the SQL client on MySQL: the same without the MariaDB-only --protocol=TCP', () => {
    const args = clientArgs({ ...base, engine: 'mysql' });
    assert.ok(!args.includes('--protocol=TCP'));
    assert.ok(args.includes('--binary-mode') && !args.includes('--force'));
  });

  it('a physical method without datadir or scratch dir is a programming error', () => {
    assert.throws(() => toolArgs({ ...base, method: 'mariabackup', engine: 'mariadb' }), /needs datadir and targetDir/);
  });

  it('the environment: no password, no object store keys, no MYSQL_PWD of ours; a few basics only', () => {
    const env = toolEnv({ PATH: '/bin', HOME: '/root', AWS_SECRET_ACCESS_KEY: 'aws', MYSQL_PWD: 'old' });
    assert.deepEqual(env, { PATH: '/bin', HOME: '/root' });
  });

  it('every command line starts with --defaults-file (the only defaults option, and first)', () => {
    const physical = { datadir: '/d', targetDir: '/t' };
    for (const args of [
      toolArgs({ ...base, method: 'mariadb-dump', engine: 'mariadb' }),
      toolArgs({ ...base, method: 'mariabackup', engine: 'mariadb', ...physical }),
      toolArgs({ ...base, method: 'xtrabackup', engine: 'percona-xtradb', ...physical }),
      clientArgs({ ...base, engine: 'mysql' }),
    ]) {
      assert.equal(args[0], `--defaults-file=${OPTIONS}`);
      assert.equal(args.filter((a) => /^--(no-defaults|defaults-(extra-)?file)/.test(a)).length, 1);
    }
  });

  const tls = { ca: '/p/ca.pem', cert: '/p/cert.pem', key: '/p/key.pem' };
  const tlsCases: { title: string; engine: Engine; verify: boolean; want: string[] }[] = [
    {
      title: 'MariaDB, verified',
      engine: 'mariadb',
      verify: true,
      want: [
        '--ssl',
        '--ssl-ca=/p/ca.pem',
        '--ssl-cert=/p/cert.pem',
        '--ssl-key=/p/key.pem',
        '--ssl-verify-server-cert',
      ],
    },
    {
      title: 'MariaDB, insecureSkipVerify: encrypted, not verified',
      engine: 'mariadb',
      verify: false,
      want: ['--ssl', '--ssl-ca=/p/ca.pem', '--ssl-cert=/p/cert.pem', '--ssl-key=/p/key.pem'],
    },
    {
      title: 'MySQL, verified: --ssl-mode=VERIFY_IDENTITY',
      engine: 'mysql',
      verify: true,
      want: ['--ssl-mode=VERIFY_IDENTITY', '--ssl-ca=/p/ca.pem', '--ssl-cert=/p/cert.pem', '--ssl-key=/p/key.pem'],
    },
    {
      title: 'MySQL, insecureSkipVerify: --ssl-mode=REQUIRED',
      engine: 'percona-xtradb',
      verify: false,
      want: ['--ssl-mode=REQUIRED', '--ssl-ca=/p/ca.pem', '--ssl-cert=/p/cert.pem', '--ssl-key=/p/key.pem'],
    },
  ];
  for (const c of tlsCases) {
    it(`TLS flags for every tool: ${c.title}`, () => {
      const options = { optionsFile: OPTIONS, tls: { ...tls, verify: c.verify } };
      const method = c.engine === 'mariadb' ? 'mariadb-dump' : 'mysqldump';
      for (const args of [
        toolArgs({ ...base, options, method, engine: c.engine }),
        toolArgs({
          ...base,
          options,
          method: c.engine === 'mariadb' ? 'mariabackup' : 'xtrabackup',
          engine: c.engine,
          datadir: '/d',
          targetDir: '/t',
        }),
        clientArgs({ ...base, options, engine: c.engine }),
      ]) {
        const at = args.indexOf(c.want[0]!);
        assert.ok(at > 0, `${c.want[0]!} missing from ${args.join(' ')}`);
        assert.deepEqual(args.slice(at, at + c.want.length), c.want);
      }
    });
  }

  it('without TLS the MariaDB tools get an empty --plugin-dir (no plugin that sends the password); MySQL tools do not', () => {
    const options = { optionsFile: OPTIONS, pluginDir: '/tmp/lifeboat-tool-x/no-plugins' };
    for (const args of [
      toolArgs({ ...base, options, method: 'mariadb-dump', engine: 'mariadb' }),
      toolArgs({ ...base, options, method: 'mariabackup', engine: 'mariadb', datadir: '/d', targetDir: '/t' }),
      clientArgs({ ...base, options, engine: 'mariadb' }),
    ]) {
      assert.ok(args.includes('--plugin-dir=/tmp/lifeboat-tool-x/no-plugins'), args.join(' '));
    }
    assert.ok(!clientArgs({ ...base, options, engine: 'mysql' }).some((a) => a.startsWith('--plugin-dir')));
  });

  it('a CA only (no client certificate): --ssl-ca and verification, no cert or key flags', () => {
    assert.deepEqual(tlsArgs('mariadb', { ca: '/p/ca.pem', verify: true }), [
      '--ssl',
      '--ssl-ca=/p/ca.pem',
      '--ssl-verify-server-cert',
    ]);
  });

  it('archive format follows the method', () => {
    assert.equal(archiveFormat('mariabackup'), 'xbstream');
    assert.equal(archiveFormat('mariadb-dump'), 'sql');
  });

  const methodCases: [BackupMethod, Engine, string | undefined, boolean][] = [
    ['mariabackup', 'mariadb', '10.11', true],
    ['mariabackup', 'mysql', undefined, false],
    ['xtrabackup', 'mariadb', '10.11', false],
    ['xtrabackup', 'percona-xtradb', undefined, true],
    ['mariadb-dump', 'mariadb', undefined, true],
    ['mariadb-dump', 'mysql', undefined, false],
    ['mysqldump', 'mysql', undefined, true],
  ];
  for (const [method, engine, version, ok] of methodCases) {
    it(`${method} for ${engine} ${version ?? ''}: ${ok ? 'allowed' : 'UnsupportedMethod'}`, () => {
      if (ok) checkMethod(method, engine, version);
      else assert.throws(() => checkMethod(method, engine, version), UnsupportedMethodError);
    });
  }

  describe('findTool (temporary PATH)', () => {
    let dir = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'lifeboat-tools-'));
      for (const name of ['mariadb-backup', 'mariadb-dump', 'mariadb', 'mysql']) {
        writeFileSync(join(dir, name), '#!/bin/sh\n');
        chmodSync(join(dir, name), 0o755);
      }
      writeFileSync(join(dir, 'xtrabackup'), 'not executable');
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('finds the binary, or its alternative name', () => {
      assert.equal(findTool('mariadb-dump', 'mariadb', dir), join(dir, 'mariadb-dump'));
      assert.equal(findTool('mariabackup', 'mariadb', `/nonexistent:${dir}`), join(dir, 'mariadb-backup'));
    });

    it('a missing or non-executable binary → UnsupportedMethodError naming it', () => {
      assert.throws(
        () => findTool('xtrabackup', 'mysql', dir),
        (err: unknown) => err instanceof UnsupportedMethodError && /needs the xtrabackup binary/.test(err.message),
      );
      assert.throws(() => findTool('mysqldump', 'mysql', dir), /mysqldump binary, which is not installed/);
    });

    /** An executable script in `dir` that prints `version` for --version. */
    function fakeTool(dir: string, name: string, version: string): string {
      const file = join(dir, name);
      writeFileSync(file, `#!/bin/sh\necho '${version}'\n`);
      chmodSync(file, 0o755);
      return file;
    }
    /** Runs `body` with `count` fresh temporary directories, removed afterwards. */
    function withDirs(count: number, body: (...dirs: string[]) => void): void {
      const dirs = Array.from({ length: count }, () => mkdtempSync(join(tmpdir(), 'lifeboat-tools-')));
      try {
        body(...dirs);
      } finally {
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
      }
    }
    const MARIADB_DUMP = 'mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)';
    const MYSQL_DUMP = 'mysqldump  Ver 8.0.40 for Linux on x86_64 (MySQL Community Server - GPL)';

    it("mysqldump linked to mariadb-dump (Debian's MariaDB client): MariaDB's for MariaDB, UnsupportedMethod for MySQL and Percona", () => {
      withDirs(2, (linked, mysqls) => {
        symlinkSync(join(dir, 'mariadb-dump'), join(linked, 'mysqldump'));
        assert.equal(findTool('mysqldump', 'mariadb', linked), join(linked, 'mysqldump'));
        for (const [engine, vendor] of [
          ['mysql', "MySQL's"],
          ['percona-xtradb', "MySQL's or Percona's"],
        ] as const) {
          assert.throws(
            () => findTool('mysqldump', engine, linked),
            (err: unknown) =>
              err instanceof UnsupportedMethodError &&
              err.message ===
                `method mysqldump against ${engine} needs ${vendor} mysqldump; ${join(linked, 'mysqldump')} here is MariaDB's, whose options differ; add MySQL's client to the worker image (docs/image.md)`,
          );
        }
        // MySQL's own, later on PATH, is the one taken.
        fakeTool(mysqls, 'mysqldump', MYSQL_DUMP);
        assert.equal(findTool('mysqldump', 'mysql', `${linked}:${mysqls}`), join(mysqls, 'mysqldump'));
      });
    });

    it("mysqldump not linked: told apart by what --version says; each engine gets its vendor's, first on PATH or not", () => {
      withDirs(2, (maria, mysql) => {
        fakeTool(maria, 'mysqldump', MARIADB_DUMP);
        fakeTool(mysql, 'mysqldump', MYSQL_DUMP);
        assert.throws(() => findTool('mysqldump', 'mysql', maria), /needs MySQL's mysqldump; .* here is MariaDB's/);
        assert.throws(
          () => findTool('mysqldump', 'mariadb', mysql),
          (err: unknown) =>
            err instanceof UnsupportedMethodError &&
            err.message.endsWith(
              "here is MySQL's, whose options differ; put MariaDB's first on PATH in the worker image",
            ),
        );
        assert.equal(findTool('mysqldump', 'mariadb', `${mysql}:${maria}`), join(maria, 'mysqldump'));
        assert.equal(findTool('mysqldump', 'percona-xtradb', `${maria}:${mysql}`), join(mysql, 'mysqldump'));
      });
    });

    it("the SQL client: MariaDB's mysql is refused for MySQL and Percona (their TLS options differ)", () => {
      withDirs(1, (linked) => {
        symlinkSync(join(dir, 'mariadb'), join(linked, 'mysql'));
        assert.equal(findClient('mariadb', linked), join(linked, 'mysql'));
        assert.throws(
          () => findClient('mysql', linked),
          (err: unknown) =>
            err instanceof UnsupportedMethodError &&
            err.message.startsWith(
              `a logical restore into mysql needs MySQL's mysql; ${join(linked, 'mysql')} here is MariaDB's`,
            ),
        );
      });
    });

    it('the SQL client: mariadb for MariaDB, mysql for MySQL and Percona, a missing one named', () => {
      assert.equal(findClient('mariadb', dir), join(dir, 'mariadb'));
      assert.equal(findClient('percona-xtradb', dir), join(dir, 'mysql'));
      assert.throws(
        () => findClient('mariadb', '/nonexistent'),
        (err: unknown) =>
          err instanceof UnsupportedMethodError && /needs the mariadb or mysql client/.test(err.message),
      );
    });
  });
});

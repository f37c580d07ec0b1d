// Positions as the tools report them: comments in a dump's stream (at any chunk boundary) and
// mariabackup's stderr line.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import {
  DumpPositionScanner,
  DumpTail,
  parseBackupToolLine,
  parseBinlogStatement,
  parseGtidStatement,
  scanningStream,
  type ReportedPosition,
} from '../../../runner/engine/dump-positions.js';

// The shape mariadb-dump 10.11 writes with --gtid --master-data=2 (head and tail kept, data cut).
const MARIADB_DUMP = [
  '/*M!999999\\- enable the sandbox mode */ ',
  '-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)',
  '/*!40101 SET NAMES utf8mb4 */;',
  '-- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;',
  '',
  "-- CHANGE MASTER TO MASTER_LOG_FILE='mariadb-bin.000001', MASTER_LOG_POS=3237;",
  '',
  "INSERT INTO `t` VALUES (1,'-- SET GLOBAL gtid_slave_pos=\\'9-9-9\\';\\n');",
  "INSERT INTO `help` VALUES (2,'x\\n-- CHANGE MASTER TO MASTER_LOG_FILE=\\'evil.000009\\', MASTER_LOG_POS=1;');",
  '-- GTID to start replication from',
  '',
  "-- SET GLOBAL gtid_slave_pos='0-1-12';",
  '-- Dump completed on 2026-11-30 18:13:33',
  '',
].join('\n');

// MySQL 8 mysqldump --source-data=2 with GTIDs on.
const MYSQL_DUMP = [
  '-- MySQL dump 10.13  Distrib 8.0.36',
  'SET @@SESSION.SQL_LOG_BIN= 0;',
  '',
  '--',
  '-- GTID state at the beginning of the backup ',
  '--',
  '',
  "SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,",
  "8a94f357-aab4-11df-86ab-c80aa9429562:1-100';",
  '',
  "-- CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='binlog.000002', SOURCE_LOG_POS=157;",
  '',
].join('\n');

const MARIADB_WANT: ReportedPosition = { binlog: 'mariadb-bin.000001:3237', gtid: '0-1-12' };
const MYSQL_WANT: ReportedPosition = {
  binlog: 'binlog.000002:157',
  gtid: '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,8a94f357-aab4-11df-86ab-c80aa9429562:1-100',
};

function scanInChunks(text: string, size: number): ReportedPosition {
  const bytes = Buffer.from(text);
  const scanner = new DumpPositionScanner();
  for (let i = 0; i < bytes.length; i += size) scanner.feed(bytes.subarray(i, i + size));
  return scanner.found;
}

describe('dump positions', () => {
  for (const [name, text, want] of [
    ['mariadb-dump', MARIADB_DUMP, MARIADB_WANT],
    ['mysqldump (MySQL 8)', MYSQL_DUMP, MYSQL_WANT],
  ] as const) {
    it(`${name}: found at every chunk size from 1 byte to the whole dump`, () => {
      for (let size = 1; size <= text.length; size += size < 64 ? 1 : 37) {
        assert.deepEqual(scanInChunks(text, size), want, `chunk size ${size}`);
      }
    });
  }

  it("the closing comment counts only as a line of its own, not as a row's text cut short after it", () => {
    const whole = new DumpTail();
    whole.feed(Buffer.from("INSERT INTO t VALUES (1,'a');\n-- Dump completed on 2026-12-03 14:00:00\n"));
    assert.equal(whole.completed, true);
    const cut = new DumpTail();
    cut.feed(Buffer.from("INSERT INTO notes VALUES (1,'-- Dump completed'),(2,'the dump stopped her"));
    assert.equal(cut.completed, false);
  });

  it('a dump without positions (binary log off) reports none', () => {
    assert.deepEqual(scanInChunks('-- MariaDB dump\nCREATE TABLE t (a int);\n', 7), {});
  });

  it('keeps only a small tail between chunks, however large the dump', () => {
    const scanner = new DumpPositionScanner();
    const filler = Buffer.alloc(1024 * 1024, 'x');
    for (let i = 0; i < 64; i++) scanner.feed(filler);
    scanner.feed(Buffer.from("\n-- SET GLOBAL gtid_slave_pos='0-1-99';\n"));
    assert.deepEqual(scanner.found, { gtid: '0-1-99' });
    const carry = (scanner as unknown as { carry: Buffer }).carry;
    assert.ok(carry.length < 100, `tail of ${carry.length} bytes`);
  });

  it('the scanning stream passes every byte through unchanged', async () => {
    const scanner = new DumpPositionScanner();
    const out: Buffer[] = [];
    const chunks = Array.from(Buffer.from(MARIADB_DUMP)).map((b) => Buffer.from([b]));
    await pipeline(
      Readable.from(chunks),
      scanningStream(scanner),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          out.push(chunk);
          cb();
        },
      }),
    );
    assert.equal(Buffer.concat(out).toString(), MARIADB_DUMP);
    assert.deepEqual(scanner.found, MARIADB_WANT);
  });

  const statements: [string, string | undefined][] = [
    ["CHANGE MASTER TO MASTER_LOG_FILE='mariadb-bin.000003', MASTER_LOG_POS=4;", 'mariadb-bin.000003:4'],
    ["CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='binlog.000001', SOURCE_LOG_POS=157;", 'binlog.000001:157'],
    ['CHANGE MASTER TO MASTER_USE_GTID=slave_pos;', undefined],
  ];
  for (const [text, want] of statements) {
    it(`binlog statement: ${text}`, () => assert.equal(parseBinlogStatement(text), want));
  }

  const gtids: [string, string | undefined][] = [
    ["SET GLOBAL gtid_slave_pos='0-1-12,100-100-36';", '0-1-12,100-100-36'],
    ["SET GLOBAL gtid_slave_pos='';", ''],
    ["SET @@GLOBAL.GTID_PURGED='uuid:1-5';", 'uuid:1-5'],
  ];
  for (const [text, want] of gtids) {
    it(`gtid statement: ${text}`, () => assert.equal(parseGtidStatement(text), want));
  }

  const lines: [string, ReportedPosition | undefined][] = [
    [
      "[00] 2026-11-30 18:15:26 MySQL binlog position: filename 'mariadb-bin.000002', position '389', GTID of the last change '100-100-36'",
      { binlog: 'mariadb-bin.000002:389', gtid: '100-100-36' },
    ],
    ["MySQL binlog position: filename 'binlog.000003', position '157'", { binlog: 'binlog.000003:157' }],
    ['[01] 2026-11-30 18:15:26 Streaming ./mysql/gtid_slave_pos.frm to <STDOUT>', undefined],
  ];
  for (const [line, want] of lines) {
    it(`backup tool line: ${line.slice(0, 60)}…`, () => assert.deepEqual(parseBackupToolLine(line), want));
  }
});

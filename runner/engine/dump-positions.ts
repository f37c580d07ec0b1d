// Where a backup is consistent, as the tools themselves report it: a logical dump writes the
// binlog position and GTID as comments in its stream (--master-data=2), mariabackup and xtrabackup
// print them on stderr. Pure: bytes or lines in, positions out.
import { Transform, type TransformCallback } from 'node:stream';

/** The consistency point the tool reported. */
export interface ReportedPosition {
  /** `file:position` */
  readonly binlog?: string;
  readonly gtid?: string;
}

interface Marker {
  readonly key: keyof ReportedPosition;
  readonly bytes: Buffer;
}

// Each marker starts at a line start: inside dumped data, newlines are escaped, so a raw newline
// followed by one of these can only be the tool's own comment or statement.
const MARKERS: readonly Marker[] = [
  '\n-- CHANGE MASTER TO MASTER_LOG_FILE=',
  '\n-- CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE=',
  '\nCHANGE MASTER TO MASTER_LOG_FILE=',
  '\n-- SET GLOBAL gtid_slave_pos=',
  '\nSET @@GLOBAL.GTID_PURGED=',
].map((m) => ({ key: m.includes('LOG_FILE') ? 'binlog' : 'gtid', bytes: Buffer.from(m) }));

const LONGEST_MARKER = Math.max(...MARKERS.map((m) => m.bytes.length));
/** A GTID set of many servers can be long; anything longer is not what we are looking for. */
const MAX_STATEMENT = 64 * 1024;

/** `file:pos` of a CHANGE MASTER/REPLICATION SOURCE statement or comment. */
export function parseBinlogStatement(text: string): string | undefined {
  const m = /_LOG_FILE='([^']+)',\s*(?:MASTER|SOURCE)_LOG_POS=(\d+)/.exec(text);
  return m ? `${m[1]}:${m[2]}` : undefined;
}

/** The GTID of a `SET GLOBAL gtid_slave_pos=` (MariaDB) or `SET @@GLOBAL.GTID_PURGED=` (MySQL) statement. */
export function parseGtidStatement(text: string): string | undefined {
  const m = /gtid_slave_pos='([^']*)'/i.exec(text) ?? /GTID_PURGED=(?:\/\*.*?\*\/\s*)?'([^']*)'/is.exec(text);
  return m?.[1]?.replace(/\s+/g, '');
}

/**
 * Finds the position statements in a dump as it streams past, keeping only a small tail between
 * chunks (never the dump). Feed chunks in order; read `found` after the last one.
 */
export class DumpPositionScanner {
  private carry: Buffer = Buffer.alloc(0);
  private readonly position: { binlog?: string; gtid?: string } = {};

  get found(): ReportedPosition {
    return { ...this.position };
  }

  feed(chunk: Buffer): void {
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    let keepFrom = Math.max(0, buf.length - (LONGEST_MARKER - 1));
    for (const marker of MARKERS) {
      const open = this.scan(buf, marker);
      if (open !== undefined) keepFrom = Math.min(keepFrom, open);
    }
    // A copy, so that the tail does not pin the whole chunk in memory.
    this.carry = Buffer.from(buf.subarray(keepFrom));
  }

  /** Records every complete statement of one marker; returns where an unfinished one starts. */
  private scan(buf: Buffer, marker: Marker): number | undefined {
    let at = buf.indexOf(marker.bytes);
    while (at !== -1) {
      const end = buf.indexOf(';\n', at + marker.bytes.length);
      if (end === -1) return buf.length - at <= MAX_STATEMENT ? at : undefined;
      this.record(marker.key, buf.toString('utf8', at + 1, end + 1));
      at = buf.indexOf(marker.bytes, end);
    }
    return undefined;
  }

  private record(key: keyof ReportedPosition, statement: string): void {
    const value = key === 'binlog' ? parseBinlogStatement(statement) : parseGtidStatement(statement);
    if (value !== undefined) this.position[key] = value;
  }
}

// mariadb-dump and mysqldump end every complete dump with this comment (unless --skip-comments,
// which Lifeboat never passes): its absence means the dump was cut short. A line of its own: a
// row's text ("... -- Dump completed") on the line a dump was cut in must not pass for it.
export const DUMP_TRAILER = /(?:^|\n)-- Dump completed[^\n]*\s*$/;
const TAIL_BYTES = 256;

/** The last bytes of a dump as it streams past: whether it ended with its closing comment. */
export class DumpTail {
  private tail: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer): void {
    const joined = chunk.length >= TAIL_BYTES ? chunk : Buffer.concat([this.tail, chunk]);
    // A copy, so that the tail does not pin the whole chunk in memory.
    this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - TAIL_BYTES)));
  }

  get completed(): boolean {
    return DUMP_TRAILER.test(this.tail.toString('latin1'));
  }
}

/** A pass-through stream that scans what flows through it; bytes are not changed or held back. */
export function scanningStream(scanner: DumpPositionScanner, tail?: DumpTail): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      scanner.feed(chunk);
      tail?.feed(chunk);
      callback(null, chunk);
    },
  });
}

/** mariabackup and xtrabackup end a successful run with this line on stderr. */
export function isCompletedOkLine(line: string): boolean {
  return /\bcompleted OK!\s*$/.test(line);
}

/**
 * The consistency point from one line of mariabackup/xtrabackup stderr, e.g. `MySQL binlog position:
 * filename 'mariadb-bin.000002', position '389', GTID of the last change '100-100-36'`.
 */
export function parseBackupToolLine(line: string): ReportedPosition | undefined {
  const m = /binlog position: filename '([^']+)', position '(\d+)'(?:, GTID of the last change '([^']*)')?/.exec(line);
  if (!m) return undefined;
  const gtid = m[3]?.replace(/\s+/g, '');
  return { binlog: `${m[1]}:${m[2]}`, ...(gtid ? { gtid } : {}) };
}

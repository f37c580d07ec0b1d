// Reads the inputs of `lifeboat check` and `lifeboat render`: files, folders (recursively) and
// stdin. Every problem becomes an InputProblem naming the path, and reading goes on with the rest.
import { closeSync, openSync, readdirSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { extname, join } from 'node:path';

export interface Source {
  /** The path as the user gave it (or found below a folder they gave); `<stdin>` for `-`. */
  readonly name: string;
  readonly text: string;
}

export interface InputProblem {
  readonly name: string;
  readonly message: string;
}

export interface ReadResult {
  readonly sources: Source[];
  readonly problems: InputProblem[];
}

export const STDIN_NAME = '<stdin>';
export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024;
const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

function describeError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'symlink loop: the link points (through other links) back to itself';
    case 'EISDIR':
      return 'is a folder';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Decodes bytes as UTF-8 text, or says why they are not a manifest. */
export function decodeText(bytes: Uint8Array): { text: string } | { problem: string } {
  if (bytes.includes(0)) return { problem: 'is binary (it holds NUL bytes), not a YAML or JSON manifest' };
  try {
    return { text: utf8.decode(bytes).replace(/^\uFEFF/, '') };
  } catch {
    return { problem: 'is not UTF-8 text; save it as UTF-8' };
  }
}

class Reader {
  readonly sources: Source[] = [];
  readonly problems: InputProblem[] = [];
  /** Real paths already read. */
  private readonly seen = new Set<string>();

  constructor(private readonly maxBytes: number) {}

  problem(name: string, message: string): void {
    this.problems.push({ name, message });
  }

  readFile(name: string, stats: Stats): void {
    if (stats.size > this.maxBytes) {
      this.problem(
        name,
        `is ${mib(stats.size)}, over the ${mib(this.maxBytes)} limit; split it, or raise --max-file-size`,
      );
      return;
    }
    let bytes: Buffer;
    try {
      bytes = readBounded(name, this.maxBytes);
    } catch (err) {
      this.problem(name, describeError(err));
      return;
    }
    const decoded = decodeText(bytes);
    if ('problem' in decoded) this.problem(name, decoded.problem);
    else this.sources.push({ name, text: decoded.text });
  }

  /** A path given on the command line: a folder, a file, or a pipe such as <(kustomize build). */
  readPath(name: string): void {
    let stats: Stats;
    let real: string;
    try {
      stats = statSync(name);
      real = realpathSync(name);
    } catch (err) {
      this.problem(name, describeError(err));
      return;
    }
    if (this.seen.has(real)) return;
    this.seen.add(real);
    if (stats.isDirectory()) this.walk(name, [real]);
    else if (stats.isFile() || stats.isFIFO() || stats.isCharacterDevice()) this.readFile(name, stats);
    else this.problem(name, 'is not a file, folder or pipe');
  }

  /** Follows symlinks; a link back to a folder being walked is reported as a loop, not followed. */
  walk(dir: string, ancestors: string[]): void {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    } catch (err) {
      this.problem(dir, describeError(err));
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      this.walkEntry(join(dir, entry.name), ancestors);
    }
  }

  /** Every file and folder is read once, however many paths or links lead to it. */
  walkEntry(path: string, ancestors: string[]): void {
    let stats: Stats;
    let real: string;
    try {
      stats = statSync(path);
      real = realpathSync(path);
    } catch (err) {
      this.problem(path, describeError(err));
      return;
    }
    if (stats.isDirectory() && ancestors.includes(real)) {
      this.problem(path, `symlink loop: it leads back to ${real}, which contains it; remove the link`);
      return;
    }
    const wanted = stats.isDirectory() || (stats.isFile() && MANIFEST_EXTENSIONS.has(extname(path).toLowerCase()));
    if (!wanted || this.seen.has(real)) return;
    this.seen.add(real);
    if (stats.isDirectory()) this.walk(path, [...ancestors, real]);
    else this.readFile(path, stats);
  }
}

/** Reads at most maxBytes + 1, so a file that grows while being read cannot exhaust memory. */
function readBounded(path: string, maxBytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - total));
      const n = chunk.length === 0 ? 0 : readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) throw new Error(`grew past the ${mib(maxBytes)} limit while being read`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

export async function readStdin(stdin: NodeJS.ReadableStream, maxBytes: number): Promise<Source | InputProblem> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (total > maxBytes)
      return {
        name: STDIN_NAME,
        message: `is over the ${mib(maxBytes)} limit; split the input, or raise --max-file-size`,
      };
    chunks.push(buf);
  }
  const decoded = decodeText(Buffer.concat(chunks, total));
  return 'problem' in decoded
    ? { name: STDIN_NAME, message: decoded.problem }
    : { name: STDIN_NAME, text: decoded.text };
}

export interface ReadOptions {
  readonly maxFileBytes: number;
  readonly stdin: NodeJS.ReadableStream;
}

/** Reads every input; `-` is stdin. Order is kept so reports are stable. */
export async function readInputs(paths: readonly string[], options: ReadOptions): Promise<ReadResult> {
  const reader = new Reader(options.maxFileBytes);
  for (const path of paths) {
    if (path === '-') {
      const result = await readStdin(options.stdin, options.maxFileBytes);
      if ('text' in result) reader.sources.push(result);
      else reader.problems.push(result);
    } else {
      reader.readPath(path);
    }
  }
  return { sources: reader.sources, problems: reader.problems };
}

// The `yaml` nodes of a source, parsed only when a finding has to be located in it, and then only
// the document that holds the finding where the file can be split safely at its `---` markers.
import jsyaml from 'js-yaml';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';

export interface Position {
  readonly line: number;
  readonly column: number;
}

export interface LocatedDocument {
  readonly doc: Document.Parsed | undefined;
  /** Turns an offset within the parsed text into a line and column of the whole source. */
  position(offset: number): Position;
}

interface Chunk {
  readonly start: number;
  readonly text: string;
  readonly firstDoc: number;
  readonly count: number;
  docs?: Document.Parsed[];
}

// Merge keys (<<: *defaults) as kubectl reads them.
function parseDocs(text: string, lines?: LineCounter): Document.Parsed[] {
  return parseAllDocuments(text, { lineCounter: lines, merge: true }) as Document.Parsed[];
}

export class SourceNodes {
  private whole?: { docs: Document.Parsed[]; lines: LineCounter };
  private chunks?: Chunk[] | null;
  private lineStarts?: number[];

  /** @param docCount how many documents the fast parser found, to check the split against. */
  constructor(
    private readonly text: string,
    private readonly docCount?: number,
  ) {}

  /** Every document of the source, with ranges. */
  all(): { docs: Document.Parsed[]; lines: LineCounter } {
    if (!this.whole) {
      const lines = new LineCounter();
      this.whole = { docs: parseDocs(this.text, lines), lines };
    }
    return this.whole;
  }

  /** Document `index` (counted as the fast parser counts them), parsing as little as it can. */
  document(index: number): LocatedDocument {
    const chunk = this.whole ? undefined : this.chunkOf(index);
    if (!chunk) {
      const { docs, lines } = this.all();
      return { doc: docs[index], position: (offset) => toPosition(lines.linePos(offset)) };
    }
    chunk.docs ??= parseDocs(chunk.text);
    return { doc: chunk.docs[index - chunk.firstDoc], position: (offset) => this.position(chunk.start + offset) };
  }

  private chunkOf(index: number): Chunk | undefined {
    if (this.chunks === undefined) this.chunks = this.split();
    return this.chunks?.find((c) => index >= c.firstDoc && index < c.firstDoc + c.count);
  }

  /**
   * Splits at lines that start with `---`, which YAML allows nowhere but as a document start.
   * Files with directives or `...` markers, or where the pieces do not add up to the documents
   * the fast parser found, are parsed whole instead.
   */
  private split(): Chunk[] | null {
    if (this.docCount === undefined || /^(%|\.\.\.)/m.test(this.text)) return null;
    const starts = [0, ...[...this.text.matchAll(/^---(?=[ \t\r\n]|$)/gm)].map((m) => m.index ?? 0)].filter(
      (offset, i) => i === 0 || offset > 0,
    );
    const chunks: Chunk[] = [];
    let firstDoc = 0;
    for (const [i, start] of starts.entries()) {
      const text = this.text.slice(start, starts[i + 1] ?? this.text.length);
      let count: number;
      try {
        count = jsyaml.loadAll(text, null, { schema: jsyaml.CORE_SCHEMA }).length;
      } catch {
        return null;
      }
      chunks.push({ start, text, firstDoc, count });
      firstDoc += count;
    }
    return firstDoc === this.docCount ? chunks : null;
  }

  private position(offset: number): Position {
    this.lineStarts ??= [0, ...[...this.text.matchAll(/\n/g)].map((m) => (m.index ?? 0) + 1)];
    let [lo, hi] = [0, this.lineStarts.length - 1];
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.lineStarts[lo] ?? 0) + 1 };
  }
}

function toPosition({ line, col }: { line: number; col: number }): Position {
  return { line, column: col };
}

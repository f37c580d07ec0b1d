// The `yaml` nodes of a source, parsed only when a finding has to be located in it and its
// positions were not recorded while it was read (node-positions.ts), and then only the document
// that holds the finding where the file can be split safely at its `---` markers.
import { createRequire } from 'node:module';
import jsyaml from 'js-yaml';
import type * as Yaml from 'yaml';
import type { Document, LineCounter, Node } from 'yaml';
import type { FieldPath } from '../policy-types.js';
import { LineIndex, type Position } from './node-positions.js';

export type { Position };

let yamlModule: typeof Yaml | undefined;

/**
 * `yaml`, loaded on first use: a check of plain files never needs its ~30 modules, and loading
 * them was a visible part of checking one small file.
 */
export function yamlLib(): typeof Yaml {
  yamlModule ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return yamlModule;
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
  return yamlLib().parseAllDocuments(text, { lineCounter: lines, merge: true }) as Document.Parsed[];
}

export class SourceNodes {
  private whole?: { docs: Document.Parsed[]; lines: LineCounter };
  private chunks?: Chunk[] | null;
  private lines?: LineIndex;

  /** @param docCount how many documents the fast parser found, to check the split against. */
  constructor(
    private readonly text: string,
    private readonly docCount?: number,
  ) {}

  /** Every document of the source, with ranges. */
  all(): { docs: Document.Parsed[]; lines: LineCounter } {
    if (!this.whole) {
      const lines = new (yamlLib().LineCounter)();
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

  /** The position of the deepest part of `path` that exists: the key of a field, or a list item. */
  locate(docIndex: number, path: FieldPath): Position {
    const located = this.document(docIndex);
    let node: unknown = located.doc?.contents;
    let offset = (node as Node | null | undefined)?.range?.[0] ?? 0;
    for (const segment of path) {
      const next = step(node, segment);
      if (!next) break;
      ({ node, offset } = next);
    }
    return located.position(offset);
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
    this.lines ??= new LineIndex(this.text);
    return this.lines.position(offset);
  }
}

function toPosition({ line, col }: { line: number; col: number }): Position {
  return { line, column: col };
}

function keyOf(node: unknown): unknown {
  return yamlLib().isScalar(node) ? node.value : node;
}

/** One step down a field path: the child node and where its key (or item) starts. */
function step(node: unknown, segment: string | number): { node: unknown; offset: number } | undefined {
  const { isMap, isSeq } = yamlLib();
  if (isMap(node)) {
    const pair = node.items.find((p) => keyOf(p.key) === segment);
    const offset = (pair?.key as Node | null | undefined)?.range?.[0];
    return pair && offset !== undefined ? { node: pair.value, offset } : undefined;
  }
  if (isSeq(node) && typeof segment === 'number') {
    const item = node.items[segment] as Node | undefined;
    return item?.range ? { node: item, offset: item.range[0] } : undefined;
  }
  return undefined;
}

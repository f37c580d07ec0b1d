// Where each YAML node of a file starts, recorded while js-yaml reads it, so that a finding is
// placed without parsing the file a second time. Recording is a flat log, three pushes per node;
// the tree of one document is rebuilt from it only when a finding in that document is placed.
//
// The positions are those the `yaml` library gives (the first character of a key or list item;
// see source-nodes.ts), which is what Lifeboat has always reported. Shapes where the log cannot be
// trusted to say the same, because js-yaml reads them differently or backtracks (anchors, tags,
// explicit `?` keys, keys without values in flow mappings, empty list items), are recognised and
// left to source-nodes.ts: see `recordable` and the checks in `step`.
import type { State } from 'js-yaml';
import type { FieldPath } from '../policy-types.js';

export interface Position {
  readonly line: number;
  readonly column: number;
}

type Kind = 'mapping' | 'sequence' | 'scalar' | null;

interface Frame {
  readonly offset: number;
  readonly children: Frame[];
  kind: Kind;
  result: unknown;
}

/** A tag or anchor (`!x`, `&x`) or an explicit key (`? `): a false positive only costs the slower path. */
const UNRECORDABLE = /(^|[\s[{,:-])[!&]|(^|[\s[{,])\?(\s|$)/m;

/** True when the log of this text will say what `yaml` says; otherwise do not record. */
export function recordable(text: string): boolean {
  return !UNRECORDABLE.test(text);
}

/** Thrown when the log cannot answer for a document; the caller then asks `yaml`. */
export class UnrecordedShape extends Error {}

const CLOSE = -1;
// Whitespace and comments: where js-yaml may report a node as opening, before its first character.
const SEPARATION = /(?:[ \t\r\n]+|#[^\r\n]*)*/y;

export class PositionLog {
  /** A node's start offset where it opens, CLOSE where it closes. */
  private readonly events: number[] = [];
  /** The value and kind of each node, in the order they close. */
  private readonly results: unknown[] = [];
  private readonly kinds: Kind[] = [];
  /** For each document: where its root opens in `events`, and how many nodes had closed by then. */
  private readonly roots: { event: number; closed: number }[] = [];
  private depth = 0;
  private readonly lines: LineIndex;

  constructor(private readonly text: string) {
    this.lines = new LineIndex(text);
  }

  /** js-yaml's `listener` option. */
  readonly listener = (event: 'open' | 'close', state: State): void => {
    if (event === 'open') {
      if (this.depth === 0) this.roots.push({ event: this.events.length, closed: this.results.length });
      this.depth++;
      this.events.push(state.position);
    } else {
      this.depth--;
      this.events.push(CLOSE);
      this.results.push(state.result);
      this.kinds.push(state.kind as Kind);
    }
  };

  /** How many documents were recorded: js-yaml composes a root for every one, empty or not. */
  get documents(): number {
    return this.roots.length;
  }

  /** The offset of the deepest part of `path` that exists in document `docIndex`; see source-nodes.ts. */
  locate(docIndex: number, path: FieldPath): number {
    let frame = this.document(docIndex);
    let offset = this.start(frame.offset);
    for (const segment of path) {
      const next = this.step(frame, segment);
      if (!next) break;
      ({ frame, offset } = next);
    }
    return offset;
  }

  position(offset: number): Position {
    return this.lines.position(offset);
  }

  private document(docIndex: number): Frame {
    const root = this.roots[docIndex];
    if (!root) throw new UnrecordedShape(`document ${docIndex} was not recorded`);
    const stack: Frame[] = [];
    let closed = root.closed;
    for (let e = root.event; e < this.events.length; e++) {
      const offset = this.events[e] ?? CLOSE;
      if (offset !== CLOSE) {
        stack.push({ offset, children: [], kind: null, result: undefined });
        continue;
      }
      const frame = stack.pop();
      if (!frame) break;
      frame.kind = this.kinds[closed] ?? null;
      frame.result = this.results[closed++];
      unwrap(frame);
      const parent = stack.at(-1);
      if (!parent) return frame;
      parent.children.push(frame);
    }
    throw new UnrecordedShape(`document ${docIndex} did not close`);
  }

  /** One step down; the counts are checked so that a child is never taken for another's. */
  private step(frame: Frame, segment: string | number): { frame: Frame; offset: number } | undefined {
    if (frame.kind === 'mapping') return this.stepIntoMapping(frame, segment);
    if (frame.kind !== 'sequence' || typeof segment !== 'number') return undefined;
    if (frame.children.length !== (frame.result as unknown[]).length)
      throw new UnrecordedShape('a list with empty items');
    const item = frame.children[segment];
    return item && { frame: item, offset: this.start(item.offset) };
  }

  private stepIntoMapping(frame: Frame, segment: string | number): { frame: Frame; offset: number } | undefined {
    const { children } = frame;
    // Key, value, key, value…, and an empty node where js-yaml looked for one more key after the
    // last: a key without a value breaks the pairing, and shows as a count that is odd or does
    // not match the keys of the value.
    const count = children.length % 2 === 1 && children.at(-1)?.kind === null ? children.length - 1 : children.length;
    if (count % 2 !== 0 || count / 2 !== Object.keys(frame.result as object).length) {
      throw new UnrecordedShape('a mapping whose keys and values do not pair');
    }
    for (let i = 0; i < count; i += 2) {
      const key = children[i];
      const value = children[i + 1];
      if (key && value && key.kind === 'scalar' && key.result === segment)
        return { frame: value, offset: this.start(key.offset) };
    }
    return undefined;
  }

  /** The node's first character: js-yaml opens some nodes before the space that precedes them. */
  private start(offset: number): number {
    SEPARATION.lastIndex = offset;
    SEPARATION.exec(this.text);
    return SEPARATION.lastIndex;
  }
}

/**
 * A flow collection where a block one may start (a list item `- [a]`, a root `{…}`) is read by
 * js-yaml while it tries it as the key of a block mapping: the node then holds one child that is
 * the very same collection, whose children are the collection's own.
 */
function unwrap(frame: Frame): void {
  const [only] = frame.children;
  if (frame.children.length !== 1 || !only || typeof frame.result !== 'object' || frame.result === null) return;
  if (only.result !== frame.result) return;
  frame.children.splice(0, 1, ...only.children);
}

/** Line and column (from 1) of an offset in a text: a binary search over its line starts, found once. */
export class LineIndex {
  private starts?: number[];

  constructor(private readonly text: string) {}

  position(offset: number): Position {
    this.starts ??= lineStarts(this.text);
    let [lo, hi] = [0, this.starts.length - 1];
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.starts[lo] ?? 0) + 1 };
  }
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

// Splits sources into manifests, and turns a finding's field path back into the line and column
// the user wrote it at.
//
// Two parsers, on purpose: js-yaml builds plain values about nine times faster than `yaml`
// (measured on 1,200 manifests: 48k vs 5.4k documents/s), which is what makes checking a large
// repository fast, and it records where each node starts as it goes (node-positions.ts), so a
// finding is placed without reading the file again. `yaml` keeps the nodes and their ranges: it is
// used for files with anchors (its alias limit guards against alias bombs), for broken YAML (its
// messages), for render, and to place findings in the few shapes the recording does not cover.
import jsyaml from 'js-yaml';
import type { Document, LineCounter } from 'yaml';
import { GROUP } from '../../crds/api-constants.js';
import type { FieldPath } from '../policy-types.js';
import type { Source } from './manifest-source.js';
import { PositionLog, recordable, UnrecordedShape, type Position } from './node-positions.js';
import { SourceNodes } from './source-nodes.js';

export type { Position };

/** Turns a field path of one document of a source into the line and column it was written at. */
export interface Locator {
  /** The position of the deepest part of `path` that exists: the key of a field, or a list item. */
  locate(docIndex: number, path: FieldPath): Position;
}

/** One manifest: a YAML document, or one item of a `kind: List` document. */
export interface Manifest {
  readonly source: string;
  readonly value: unknown;
  /** Where in the document the manifest sits: [] or ['items', i]. */
  readonly prefix: FieldPath;
  readonly docIndex: number;
  readonly locator: Locator;
}

export interface ParseProblem {
  readonly source: string;
  readonly position: Position;
  readonly message: string;
}

export interface ParsedSource {
  readonly source: Source;
  readonly manifests: Manifest[];
  readonly problems: ParseProblem[];
}

function position(lines: LineCounter, offset: number): Position {
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

/** yaml's messages end with " at line L, column C:" and an excerpt; the position is reported apart. */
function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}

/** A `v1 List` (as kubectl get -o yaml writes) or a list of a Lifeboat kind holds manifests in items. */
function isManifestList(record: Record<string, unknown>): boolean {
  const { apiVersion, kind } = record;
  if (apiVersion === 'v1' && kind === 'List') return true;
  return (
    typeof apiVersion === 'string' &&
    apiVersion.startsWith(`${GROUP}/`) &&
    typeof kind === 'string' &&
    kind.endsWith('List')
  );
}

function expandList(value: unknown): { value: unknown; prefix: FieldPath }[] {
  const record = value as Record<string, unknown>;
  const items = record['items'];
  if (isManifestList(record) && Array.isArray(items)) {
    return items.map((item: unknown, i) => ({ value: item, prefix: ['items', i] }));
  }
  return [{ value, prefix: [] }];
}

/** True when the value contains itself: an alias inside its own anchor, which no manifest can hold. */
function isCyclic(value: unknown, ancestors = new Set<unknown>()): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (ancestors.has(value)) return true;
  ancestors.add(value);
  const cyclic = Object.values(value).some((child) => isCyclic(child, ancestors));
  ancestors.delete(value);
  return cyclic;
}

function toValue(doc: Document.Parsed): unknown {
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const message = err instanceof RangeError ? 'the document nests too deeply to read; flatten it' : String(err);
    throw new Error(message.replace(/^\w*Error: /, ''), { cause: err });
  }
  if (isCyclic(value)) throw new Error('an alias refers to a node that contains it; write the value out instead');
  return value;
}

function manifestsOf(source: Source, values: readonly unknown[], locator: Locator): Manifest[] {
  return values.flatMap((value, docIndex) =>
    value === null || value === undefined
      ? []
      : expandList(value).map((m) => ({ source: source.name, ...m, docIndex, locator })),
  );
}

/** Positions from the recording, and from `yaml` for a document whose shape it does not cover. */
class RecordedLocator implements Locator {
  private nodes?: SourceNodes;

  constructor(
    private readonly log: PositionLog,
    private readonly text: string,
  ) {}

  locate(docIndex: number, path: FieldPath): Position {
    try {
      return this.log.position(this.log.locate(docIndex, path));
    } catch (err) {
      if (!(err instanceof UnrecordedShape)) throw err;
      this.nodes ??= new SourceNodes(this.text, this.log.documents);
      return this.nodes.locate(docIndex, path);
    }
  }
}

function fastLocator(text: string, values: readonly unknown[], log: PositionLog | undefined): Locator {
  return log && log.documents === values.length ? new RecordedLocator(log, text) : new SourceNodes(text, values.length);
}

/** The thorough path: `yaml` for values and errors, with an alias limit. */
function parseWithNodes(source: Source, nodes: SourceNodes): ParsedSource {
  const { docs, lines } = nodes.all();
  const values: unknown[] = [];
  const problems: ParseProblem[] = [];
  for (const doc of docs) {
    // Later errors in a broken document mostly follow from the first; report that one.
    const [err] = doc.errors;
    if (err) {
      problems.push({ source: source.name, position: position(lines, err.pos[0]), message: firstLine(err.message) });
      values.push(undefined);
      continue;
    }
    try {
      values.push(toValue(doc));
    } catch (e) {
      const at = position(lines, doc.contents?.range?.[0] ?? 0);
      problems.push({ source: source.name, position: at, message: e instanceof Error ? e.message : String(e) });
      values.push(undefined);
    }
  }
  return { source, manifests: manifestsOf(source, values, nodes), problems };
}

// An anchor (&name) before a value; a false positive only costs the slower path.
const ANCHOR = /(^|[\s[{,:-])&[^\s,[\]{}]+/m;

export function parseSource(source: Source): ParsedSource {
  if (ANCHOR.test(source.text)) return parseWithNodes(source, new SourceNodes(source.text));
  try {
    const log = recordable(source.text) ? new PositionLog(source.text) : undefined;
    const values = jsyaml.loadAll(source.text, null, { schema: jsyaml.CORE_SCHEMA, listener: log?.listener });
    return { source, manifests: manifestsOf(source, values, fastLocator(source.text, values, log)), problems: [] };
  } catch {
    // Broken YAML, or beyond js-yaml's limits (e.g. nesting depth): yaml reads it or says why.
    return parseWithNodes(source, new SourceNodes(source.text));
  }
}

/** The `yaml` documents themselves, for `lifeboat render`, which edits them in place. */
export function parseDocuments(source: Source): ParsedSource & { docs: Document.Parsed[] } {
  const nodes = new SourceNodes(source.text);
  return { ...parseWithNodes(source, nodes), docs: nodes.all().docs };
}

/** The position of the deepest part of `path` that exists: the key of a field, or a list item. */
export function locate(manifest: Manifest, path: FieldPath): Position {
  return manifest.locator.locate(manifest.docIndex, [...manifest.prefix, ...path]);
}

// Splits sources into manifests, and turns a finding's field path back into the line and column
// the user wrote it at.
//
// Two parsers, on purpose: js-yaml builds plain values about nine times faster than `yaml`
// (measured on 1,200 manifests: 48k vs 5.4k documents/s), which is what makes checking a large
// repository fast; `yaml` keeps the nodes and their ranges, so it is used only for files that have
// findings, for files with anchors (its alias limit guards against alias bombs), and for render.
import jsyaml from 'js-yaml';
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import { GROUP } from '../../crds/api-constants.js';
import type { FieldPath } from '../policy-types.js';
import type { Source } from './manifest-source.js';
import { SourceNodes, type Position } from './source-nodes.js';

export type { Position };

/** One manifest: a YAML document, or one item of a `kind: List` document. */
export interface Manifest {
  readonly source: string;
  readonly value: unknown;
  /** Where in the document the manifest sits: [] or ['items', i]. */
  readonly prefix: FieldPath;
  readonly docIndex: number;
  readonly nodes: SourceNodes;
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

function manifestsOf(source: Source, values: readonly unknown[], nodes: SourceNodes): Manifest[] {
  return values.flatMap((value, docIndex) =>
    value === null || value === undefined
      ? []
      : expandList(value).map((m) => ({ source: source.name, ...m, docIndex, nodes })),
  );
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
    const values = jsyaml.loadAll(source.text, null, { schema: jsyaml.CORE_SCHEMA });
    return {
      source,
      manifests: manifestsOf(source, values, new SourceNodes(source.text, values.length)),
      problems: [],
    };
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

function keyOf(node: unknown): unknown {
  return isScalar(node) ? node.value : node;
}

/** One step down a field path: the child node and where its key (or item) starts. */
function step(node: unknown, segment: string | number): { node: unknown; offset: number } | undefined {
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

/** The position of the deepest part of `path` that exists: the key of a field, or a list item. */
export function locate(manifest: Manifest, path: FieldPath): Position {
  const located = manifest.nodes.document(manifest.docIndex);
  let node: unknown = located.doc?.contents;
  let offset = (node as Node | null | undefined)?.range?.[0] ?? 0;
  for (const segment of [...manifest.prefix, ...path]) {
    const next = step(node, segment);
    if (!next) break;
    ({ node, offset } = next);
  }
  return located.position(offset);
}

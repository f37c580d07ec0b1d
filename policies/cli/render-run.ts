// `lifeboat render`: the manifests as the mutating webhook would store them. Changes are applied to
// the YAML documents themselves, so comments and layout survive for a diff against Git.
import { isAlias, isNode, type Document } from 'yaml';
import { review } from '../engine.js';
import { decode } from '../schema-check.js';
import { formatPath } from '../field-path.js';
import type { FieldPath, Neighbours, PolicySettings } from '../policy-types.js';
import { buildIndex } from './manifest-index.js';
import { locate, parseDocuments, type Manifest } from './manifest-parse.js';
import { readInputs, type ReadOptions } from './manifest-source.js';

export interface RenderResult {
  readonly output: string;
  /** Inputs that could not be rendered, as `file:line:col  ID  message` lines. */
  readonly problems: string[];
}

/** One document, its separator left to the caller so that documents join with exactly one `---`. */
function renderDoc(doc: Document.Parsed, source: string): string {
  doc.directives.docStart = null;
  return `# Source: ${source}\n${doc.toString({ lineWidth: 0 })}`;
}

/** True when the path runs through an anchor or alias: filling it there would change every alias too. */
function throughAlias(doc: Document.Parsed, path: FieldPath): boolean {
  for (let depth = 0; depth < path.length; depth++) {
    const node = doc.getIn(path.slice(0, depth), true);
    if (isAlias(node) || (isNode(node) && node.anchor !== undefined)) return true;
  }
  return false;
}

/** Applies the mutations of one manifest to its document; returns what could not be rendered. */
function renderManifest(m: Manifest, doc: Document.Parsed, index: Neighbours, settings: PolicySettings): string[] {
  const result = review({ document: m.value, operation: 'CREATE', neighbours: index, settings });
  const at = (path: FieldPath): string => {
    const { line, column } = locate(m, path);
    return `${m.source}:${line}:${column}`;
  };
  const problems =
    result.outcome === 'invalid' ? result.findings.map((f) => `${at(f.path)}  ${f.policy}  ${f.message}`) : [];
  for (const change of result.applied) {
    const path = [...m.prefix, ...change.path];
    if (throughAlias(doc, path)) {
      problems.push(
        `${at(change.path)}  ${change.policy}  cannot fill ${formatPath(change.path)}: it lies inside a YAML anchor or alias; write that part out`,
      );
    } else {
      doc.setIn(path, change.value);
    }
  }
  return problems;
}

export async function runRender(
  paths: readonly string[],
  settings: PolicySettings,
  read: ReadOptions,
): Promise<RenderResult> {
  const input = await readInputs(paths, read);
  const problems = input.problems.map((p) => `${p.name}:1:1  LB001  ${p.name} ${p.message}`);
  const parsed = input.sources.map(parseDocuments);
  const manifests = parsed.flatMap((p) => p.manifests).map((m) => ({ value: m.value, decoded: decode(m.value) }));
  const index = buildIndex(manifests, settings.defaultNamespace);
  const out: string[] = [];
  for (const p of parsed) {
    problems.push(
      ...p.problems.map((e) => `${e.source}:${e.position.line}:${e.position.column}  LB002  YAML: ${e.message}`),
    );
    if (p.problems.length > 0) continue;
    for (const m of p.manifests) {
      const doc = p.docs[m.docIndex];
      if (doc) problems.push(...renderManifest(m, doc, index, settings));
    }
    out.push(...p.docs.filter((d) => d.contents !== null).map((d) => renderDoc(d, p.source.name)));
  }
  return { output: out.join('---\n'), problems };
}

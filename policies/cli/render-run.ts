// `lifeboat render`: the manifests as the mutating webhook would store them. Changes are applied to
// the YAML documents themselves, so comments and layout survive for a diff against Git.
import type { Document } from 'yaml';
import { review } from '../engine.js';
import { decode } from '../schema-check.js';
import type { PolicySettings } from '../policy-types.js';
import { buildIndex } from './manifest-index.js';
import { parseDocuments } from './manifest-parse.js';
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
      const result = review({ document: m.value, operation: 'CREATE', neighbours: index, settings });
      if (result.outcome === 'invalid') {
        problems.push(...result.findings.map((f) => `${m.source}  ${f.policy}  ${f.message}`));
      }
      for (const change of result.applied) p.docs[m.docIndex]?.setIn([...m.prefix, ...change.path], change.value);
    }
    out.push(...p.docs.filter((d) => d.contents !== null).map((d) => renderDoc(d, p.source.name)));
  }
  return { output: out.join('---\n'), problems };
}

// `lifeboat check`: read, parse, index the neighbours, review every Lifeboat manifest, locate the
// findings in the source. Formatting and exit codes are the caller's.
import { CATALOG } from '../catalog.js';
import { GROUP } from '../../crds/api-constants.js';
import { namespaceOf, reviewDecoded } from '../engine.js';
import { decode, type Decoded } from '../schema-check.js';
import type { PolicySettings, Severity } from '../policy-types.js';
import { buildIndex, type ManifestIndex } from './manifest-index.js';
import { locate, parseSource, type Manifest, type ParsedSource } from './manifest-parse.js';
import { readInputs, type InputProblem, type ReadOptions } from './manifest-source.js';

export interface LocatedFinding {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly policy: string;
  readonly severity: Severity;
  readonly message: string;
  /** The resource the finding is about, when there is one. */
  readonly resource?: string;
}

type DecodedManifest = Manifest & { readonly decoded: Decoded };

export interface CheckReport {
  /** Every file read, in order, with or without findings. */
  readonly files: readonly string[];
  readonly resources: number;
  readonly findings: readonly LocatedFinding[];
}

export const INPUT_POLICY = { unreadable: 'LB001', yaml: 'LB002', duplicate: 'LB006' } as const;
const INPUT_IDS = new Set(CATALOG.filter((p) => p.category === 'input').map((p) => p.id));

/** A denial about the input itself: the manifest could not be judged, so the check exits 2. */
export function isInputFinding(f: LocatedFinding): boolean {
  return INPUT_IDS.has(f.policy) && f.severity === 'deny';
}

function resourceName(value: unknown): string | undefined {
  const v = value as { kind?: unknown; metadata?: { name?: unknown } } | null;
  return typeof v?.kind === 'string' && typeof v.metadata?.name === 'string'
    ? `${v.kind}/${v.metadata.name}`
    : undefined;
}

function reviewManifest(manifest: DecodedManifest, index: ManifestIndex, settings: PolicySettings): LocatedFinding[] {
  const result = reviewDecoded(manifest.decoded, { operation: 'CREATE', neighbours: index, settings });
  const resource = resourceName(manifest.value);
  const findings = result.findings.map((f) => {
    const at = locate(manifest, f.path);
    return {
      file: manifest.source,
      line: at.line,
      column: at.column,
      policy: f.policy,
      severity: f.severity,
      message: f.message,
      resource,
    };
  });
  return findings;
}

function readingFindings(problems: readonly InputProblem[], parsed: readonly ParsedSource[]): LocatedFinding[] {
  const unreadable = problems.map((p) => ({
    file: p.name,
    line: 1,
    column: 1,
    policy: INPUT_POLICY.unreadable,
    severity: 'deny' as const,
    message: `${p.name} ${p.message}`,
  }));
  const malformed = parsed.flatMap((p) =>
    p.problems.map((problem) => ({
      file: problem.source,
      ...problem.position,
      policy: INPUT_POLICY.yaml,
      severity: 'deny' as const,
      message: `YAML: ${problem.message}`,
    })),
  );
  return [...unreadable, ...malformed];
}

/**
 * The same resource twice (a kustomize base beside its overlay, say) is ambiguous: neighbours are
 * taken from the first, and the later ones are pointed out.
 */
function duplicateFindings(manifests: readonly DecodedManifest[], settings: PolicySettings): LocatedFinding[] {
  const first = new Map<string, DecodedManifest>();
  const out: LocatedFinding[] = [];
  for (const m of manifests) {
    if (m.decoded.type !== 'lifeboat' || m.decoded.object.metadata.name === undefined) continue;
    const obj = m.decoded.object;
    const key = `${obj.kind}/${namespaceOf(obj, settings)}/${obj.metadata.name}`;
    const earlier = first.get(key);
    if (!earlier) {
      first.set(key, m);
      continue;
    }
    const at = locate(m, ['metadata', 'name']);
    const there = locate(earlier, ['metadata', 'name']);
    out.push({
      file: m.source,
      ...at,
      policy: INPUT_POLICY.duplicate,
      severity: 'warn',
      message: `${obj.kind} ${obj.metadata.name} is also defined at ${earlier.source}:${there.line}; the first definition was used for cross-object checks. Check one overlay at a time (kustomize build overlays/x | lifeboat check -)`,
      resource: resourceName(m.value),
    });
  }
  return out;
}

function isLifeboatDocument(value: unknown): boolean {
  const apiVersion = (value as { apiVersion?: unknown } | null)?.apiVersion;
  return typeof apiVersion === 'string' && apiVersion.startsWith(`${GROUP}/`);
}

export async function runCheck(
  paths: readonly string[],
  settings: PolicySettings,
  read: ReadOptions,
): Promise<CheckReport> {
  const input = await readInputs(paths, read);
  const parsed = input.sources.map(parseSource);
  const findings = readingFindings(input.problems, parsed);
  const manifests = parsed.flatMap((p) => p.manifests).map((m) => ({ ...m, decoded: decode(m.value) }));
  const index = buildIndex(manifests, settings.defaultNamespace);
  for (const manifest of manifests) findings.push(...reviewManifest(manifest, index, settings));
  findings.push(...duplicateFindings(manifests, settings));
  return {
    files: [...input.problems.map((p) => p.name), ...input.sources.map((s) => s.name)],
    resources: manifests.filter((m) => isLifeboatDocument(m.value)).length,
    findings: sortFindings(findings),
  };
}

function sortFindings(findings: LocatedFinding[]): LocatedFinding[] {
  return findings.sort(
    (a, b) =>
      a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.policy.localeCompare(b.policy),
  );
}

export type ExitCode = 0 | 1 | 2;

/** 2 when some input could not be judged, 1 when a policy denies (or warns, if asked), else 0. */
export function exitCode(report: CheckReport, warningsAsErrors: boolean): ExitCode {
  if (report.findings.some(isInputFinding)) return 2;
  if (report.findings.some((f) => f.severity === 'deny' || warningsAsErrors)) return 1;
  return 0;
}

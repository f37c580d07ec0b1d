// `lifeboat check`: read, parse, index the neighbours, review every Lifeboat manifest, locate the
// findings in the source. Formatting and exit codes are the caller's.
import { CATALOG } from '../catalog.js';
import { reviewDecoded } from '../engine.js';
import { decode, type Decoded } from '../schema-check.js';
import type { PolicySettings, Severity } from '../policy-types.js';
import { buildIndex, type ManifestIndex } from './manifest-index.js';
import { locate, parseSource, type Manifest } from './manifest-parse.js';
import { readInputs, type ReadOptions } from './manifest-source.js';

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

export const INPUT_POLICY = { unreadable: 'LB001', yaml: 'LB002' } as const;
const INPUT_IDS = new Set(CATALOG.filter((p) => p.category === 'input').map((p) => p.id));

export function isInputFinding(f: LocatedFinding): boolean {
  return INPUT_IDS.has(f.policy);
}

function resourceName(value: unknown): string | undefined {
  const v = value as { kind?: unknown; metadata?: { name?: unknown } } | null;
  return typeof v?.kind === 'string' && typeof v.metadata?.name === 'string'
    ? `${v.kind}/${v.metadata.name}`
    : undefined;
}

function reviewManifest(
  manifest: DecodedManifest,
  index: ManifestIndex,
  settings: PolicySettings,
): { reviewed: boolean; findings: LocatedFinding[] } {
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
  return { reviewed: result.outcome !== 'foreign', findings };
}

export async function runCheck(
  paths: readonly string[],
  settings: PolicySettings,
  read: ReadOptions,
): Promise<CheckReport> {
  const input = await readInputs(paths, read);
  const findings: LocatedFinding[] = input.problems.map((p) => ({
    file: p.name,
    line: 1,
    column: 1,
    policy: INPUT_POLICY.unreadable,
    severity: 'deny',
    message: `${p.name} ${p.message}`,
  }));
  const parsed = input.sources.map(parseSource);
  for (const p of parsed) {
    for (const problem of p.problems) {
      findings.push({
        file: problem.source,
        ...problem.position,
        policy: INPUT_POLICY.yaml,
        severity: 'deny',
        message: `YAML: ${problem.message}`,
      });
    }
  }
  const manifests = parsed.flatMap((p) => p.manifests).map((m) => ({ ...m, decoded: decode(m.value) }));
  const index = buildIndex(manifests, settings.defaultNamespace);
  let resources = 0;
  for (const manifest of manifests) {
    const result = reviewManifest(manifest, index, settings);
    if (result.reviewed) resources++;
    findings.push(...result.findings);
  }
  return {
    files: [...input.problems.map((p) => p.name), ...input.sources.map((s) => s.name)],
    resources,
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

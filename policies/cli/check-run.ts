// `lifeboat check`: read, parse, index the neighbours, review every Lifeboat manifest, locate the
// findings in the source. The files are shared among threads for large inputs (check-threads.ts);
// each share parses and reviews its files (check-share.ts), and what needs every file, the
// index and the duplicate check, is put together here in the order of the files, so the report
// is the same whichever thread read what. Formatting and exit codes are the caller's.
import type { PolicySettings } from '../policy-types.js';
import {
  CheckShare,
  claimer,
  INPUT_POLICY,
  isInputFinding,
  type FileEntries,
  type LocatedFinding,
  type ManifestRef,
  type NamedObject,
  type ParsedFile,
  type ReviewedShare,
} from './check-share.js';
import { newClaims, startWorkers, threadCount, type ThreadSetting, type WorkerShare } from './check-threads.js';
import type { Position } from './manifest-parse.js';
import { readInputs, type InputProblem, type ReadOptions, type Source } from './manifest-source.js';

export { INPUT_POLICY, isInputFinding, type LocatedFinding } from './check-share.js';

export interface CheckReport {
  /** Every file read, in order, with or without findings. */
  readonly files: readonly string[];
  readonly resources: number;
  readonly findings: readonly LocatedFinding[];
}

export interface CheckOptions {
  /** Threads to check on, this one included; 'auto' (the default) decides by the input's size. */
  readonly threads?: ThreadSetting;
  /** For tests: this thread claims no file, so the workers' path runs whatever the input's size. */
  readonly workersOnly?: boolean;
}

function unreadableFindings(problems: readonly InputProblem[]): LocatedFinding[] {
  return problems.map((p) => ({
    file: p.name,
    line: 1,
    column: 1,
    policy: INPUT_POLICY.unreadable,
    severity: 'deny' as const,
    message: `${p.name} ${p.message}`,
  }));
}

interface Duplicate {
  readonly later: NamedObject;
  readonly first: NamedObject;
}

/**
 * The same resource twice (a kustomize base beside its overlay, say) is ambiguous: neighbours are
 * taken from the first, and the later ones are pointed out.
 */
function duplicatesOf(named: readonly NamedObject[]): Duplicate[] {
  const first = new Map<string, NamedObject>();
  const out: Duplicate[] = [];
  for (const n of named) {
    const earlier = first.get(n.key);
    if (earlier) out.push({ later: n, first: earlier });
    else first.set(n.key, n);
  }
  return out;
}

function duplicateFinding(
  { later, first }: Duplicate,
  sources: readonly Source[],
  at: Position,
  there: Position,
): LocatedFinding {
  const earlierSource = sources[first.file]?.name ?? '';
  return {
    file: sources[later.file]?.name ?? '',
    ...at,
    policy: INPUT_POLICY.duplicate,
    severity: 'warn',
    message: `${later.kind} ${later.name} is also defined at ${earlierSource}:${there.line}; the first definition was used for cross-object checks. Check one overlay at a time (kustomize build overlays/x | lifeboat check -)`,
    resource: `${later.kind}/${later.name}`,
  };
}

/** A thread's share: the one of this thread (parsed already), or a worker's. */
interface Share {
  readonly parsed: readonly ParsedFile[];
  review(others: readonly FileEntries[], names: readonly ManifestRef[]): Promise<ReviewedShare>;
  stop(): void;
}

/** Parses on every thread; returns the shares that hold files, stopping workers that hold none. */
async function parseShares(
  sources: readonly Source[],
  settings: PolicySettings,
  threads: number,
  workersOnly: boolean,
): Promise<Share[]> {
  const claims = newClaims(threads);
  const workers = startWorkers(sources, settings, claims, threads);
  try {
    const here = new CheckShare(sources, settings);
    const parsedHere = workersOnly ? [] : here.parseClaimed(claimer(claims, sources.length));
    const busy = workers.filter((w) => workersOnly || w.started);
    for (const idle of workers.filter((w) => !busy.includes(w))) idle.stop();
    const parsedThere = await Promise.all(busy.map((w) => w.parsed()));
    const local: Share = {
      parsed: parsedHere,
      review: async (others, names) => {
        // A turn later, once the workers' requests are posted: until its review ends this thread is busy.
        await null;
        return here.review(others, names);
      },
      stop: () => undefined,
    };
    return [local, ...busy.map((w, i) => workerShare(w, parsedThere[i] ?? []))];
  } catch (err) {
    for (const w of workers) w.stop();
    throw err;
  }
}

function workerShare(worker: WorkerShare, parsed: readonly ParsedFile[]): Share {
  return {
    parsed,
    review: (others, names) => worker.review({ others, names }),
    stop: () => worker.stop(),
  };
}

/** Every share reviews its files against the index of all files; the findings come back in file order. */
async function reviewShares(
  shares: readonly Share[],
  files: readonly ParsedFile[],
  duplicates: readonly Duplicate[],
): Promise<{ findings: LocatedFinding[][]; names: Map<string, Position> }> {
  const owner = new Map<number, number>();
  shares.forEach((share, i) => share.parsed.forEach((f) => owner.set(f.file, i)));
  const wanted = shares.map((): ManifestRef[] => []);
  for (const d of duplicates) for (const ref of [d.later, d.first]) wanted[owner.get(ref.file) ?? 0]?.push(ref);
  // Each share is sent the entries of the files it did not parse: its own it has.
  const othersOf = (share: Share): FileEntries[] => {
    const own = new Set(share.parsed.map((f) => f.file));
    return files.filter((f) => !own.has(f.file)).map((f) => ({ file: f.file, entries: f.entries }));
  };
  const reviewed = await Promise.all(shares.map((share, i) => share.review(othersOf(share), wanted[i] ?? [])));
  const findings: LocatedFinding[][] = [];
  const names = new Map<string, Position>();
  reviewed.forEach((share, i) => {
    for (const f of share.files) findings[f.file] = f.findings;
    share.names.forEach((position, n) => {
      const ref = wanted[i]?.[n];
      if (ref) names.set(`${ref.file}/${ref.manifest}`, position);
    });
  });
  return { findings, names };
}

export async function runCheck(
  paths: readonly string[],
  settings: PolicySettings,
  read: ReadOptions,
  options: CheckOptions = {},
): Promise<CheckReport> {
  const input = await readInputs(paths, read);
  const { sources } = input;
  const threads = threadCount(sources, options.threads ?? 'auto');
  const shares = await parseShares(sources, settings, threads, options.workersOnly === true && threads > 1);
  const files: ParsedFile[] = [];
  for (const share of shares) for (const f of share.parsed) files[f.file] = f;
  const duplicates = duplicatesOf(files.flatMap((f) => f.named));
  let reviewed: Awaited<ReturnType<typeof reviewShares>>;
  try {
    reviewed = await reviewShares(shares, files, duplicates);
  } finally {
    for (const share of shares) share.stop();
  }
  const nameAt = (ref: ManifestRef): Position =>
    reviewed.names.get(`${ref.file}/${ref.manifest}`) ?? { line: 1, column: 1 };
  const findings = [
    ...unreadableFindings(input.problems),
    ...files.flatMap((f) => f.malformed),
    ...reviewed.findings.flat(),
    ...duplicates.map((d) => duplicateFinding(d, sources, nameAt(d.later), nameAt(d.first))),
  ];
  return {
    files: [...input.problems.map((p) => p.name), ...sources.map((s) => s.name)],
    resources: files.reduce((sum, f) => sum + f.resources, 0),
    findings: sortFindings(findings),
  };
}

// One collator for every comparison: the same order as localeCompare, without its per-call setup.
const collator = new Intl.Collator();

function sortFindings(findings: LocatedFinding[]): LocatedFinding[] {
  return findings.sort(
    (a, b) =>
      collator.compare(a.file, b.file) ||
      a.line - b.line ||
      a.column - b.column ||
      collator.compare(a.policy, b.policy),
  );
}

export type ExitCode = 0 | 1 | 2;

/** 2 when some input could not be judged, 1 when a policy denies (or warns, if asked), else 0. */
export function exitCode(report: CheckReport, warningsAsErrors: boolean): ExitCode {
  if (report.findings.some(isInputFinding)) return 2;
  if (report.findings.some((f) => f.severity === 'deny' || warningsAsErrors)) return 1;
  return 0;
}

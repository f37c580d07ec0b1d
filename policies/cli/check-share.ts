// One thread's share of `lifeboat check`: the files it claims are parsed, decoded against the
// schema and, once the index of every file is known, reviewed, their findings located. What
// needs every file (the index, duplicates) is put together by check-run.ts from the plain data
// returned here, so that a share can run in a worker thread (check-worker.ts) as well as in the
// main one, with the same results.
import { CATALOG } from '../catalog.js';
import { GROUP } from '../../crds/api-constants.js';
import { namespaceOf, reviewDecoded } from '../engine.js';
import { decode, type Decoded } from '../schema-check.js';
import type { PolicySettings, Severity } from '../policy-types.js';
import { indexEntry, indexOf, type IndexEntry, type ManifestIndex } from './manifest-index.js';
import { locate, parseSource, type Manifest, type Position } from './manifest-parse.js';
import type { Source } from './manifest-source.js';

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

export const INPUT_POLICY = { unreadable: 'LB001', yaml: 'LB002', duplicate: 'LB006' } as const;
const INPUT_IDS = new Set(CATALOG.filter((p) => p.category === 'input').map((p) => p.id));

/** A denial about the input itself: the manifest could not be judged, so the check exits 2. */
export function isInputFinding(f: LocatedFinding): boolean {
  return INPUT_IDS.has(f.policy) && f.severity === 'deny';
}

/** A manifest of one file: the file's place among the sources, and the manifest's within it. */
export interface ManifestRef {
  readonly file: number;
  readonly manifest: number;
}

/** A Lifeboat object with a name, for the duplicate check. */
export interface NamedObject extends ManifestRef {
  /** `Kind/namespace/name`. */
  readonly key: string;
  readonly kind: string;
  readonly name: string;
}

export interface ParsedFile {
  readonly file: number;
  /** Its YAML problems. */
  readonly malformed: LocatedFinding[];
  /** What its manifests add to the neighbour index, in order. */
  readonly entries: IndexEntry[];
  readonly named: NamedObject[];
  /** How many of its manifests are Lifeboat resources. */
  readonly resources: number;
}

/** The index entries of one file, for the shares that did not parse it. */
export interface FileEntries {
  readonly file: number;
  readonly entries: readonly IndexEntry[];
}

export interface ReviewedShare {
  /** The findings of each file the share parsed, manifest by manifest. */
  readonly files: { readonly file: number; readonly findings: LocatedFinding[] }[];
  /** Where `metadata.name` of each manifest asked for is. */
  readonly names: Position[];
}

type DecodedManifest = Manifest & { readonly decoded: Decoded };

function resourceName(value: unknown): string | undefined {
  const v = value as { kind?: unknown; metadata?: { name?: unknown } } | null;
  return typeof v?.kind === 'string' && typeof v.metadata?.name === 'string'
    ? `${v.kind}/${v.metadata.name}`
    : undefined;
}

function isLifeboatDocument(value: unknown): boolean {
  const apiVersion = (value as { apiVersion?: unknown } | null)?.apiVersion;
  return typeof apiVersion === 'string' && apiVersion.startsWith(`${GROUP}/`);
}

function reviewManifest(manifest: DecodedManifest, index: ManifestIndex, settings: PolicySettings): LocatedFinding[] {
  const result = reviewDecoded(manifest.decoded, { operation: 'CREATE', neighbours: index, settings });
  const resource = resourceName(manifest.value);
  return result.findings.map((f) => {
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
}

export class CheckShare {
  /** The manifests of every file this share parsed, by the file's place among the sources. */
  private readonly parsed = new Map<number, DecodedManifest[]>();
  private readonly entries = new Map<number, readonly IndexEntry[]>();

  constructor(
    private readonly sources: readonly Source[],
    private readonly settings: PolicySettings,
  ) {}

  /** Parses and decodes source `file`, keeping its manifests for review. */
  parse(file: number): ParsedFile {
    const source = this.sources[file];
    if (!source) throw new RangeError(`no source ${file}`);
    const { manifests, problems } = parseSource(source);
    const malformed = problems.map((problem) => ({
      file: problem.source,
      ...problem.position,
      policy: INPUT_POLICY.yaml,
      severity: 'deny' as const,
      message: `YAML: ${problem.message}`,
    }));
    const decoded = manifests.map((m) => ({ ...m, decoded: decode(m.value) }));
    this.parsed.set(file, decoded);
    const entries: IndexEntry[] = [];
    const named: NamedObject[] = [];
    let resources = 0;
    for (const [i, m] of decoded.entries()) {
      const entry = indexEntry(m.value, m.decoded, this.settings.defaultNamespace);
      if (entry) entries.push(entry);
      if (isLifeboatDocument(m.value)) resources++;
      const obj = m.decoded.type === 'lifeboat' ? m.decoded.object : undefined;
      const name = obj?.metadata.name;
      if (!obj || name === undefined) continue;
      named.push({
        file,
        manifest: i,
        key: `${obj.kind}/${namespaceOf(obj, this.settings)}/${name}`,
        kind: obj.kind,
        name,
      });
    }
    this.entries.set(file, entries);
    return { file, malformed, entries, named, resources };
  }

  /** Parses the files `claim` hands out until it has none left. */
  parseClaimed(claim: () => number | undefined): ParsedFile[] {
    const out: ParsedFile[] = [];
    for (let file = claim(); file !== undefined; file = claim()) out.push(this.parse(file));
    return out;
  }

  /**
   * Reviews every manifest parsed here against the index of every file: this share's own
   * entries and the `others` (the files other shares parsed), in the order of the files.
   */
  review(others: readonly FileEntries[], names: readonly ManifestRef[]): ReviewedShare {
    const byFile = [...others, ...[...this.entries].map(([file, entries]) => ({ file, entries }))];
    byFile.sort((a, b) => a.file - b.file);
    const index = indexOf(
      byFile.flatMap((f) => f.entries),
      this.settings.defaultNamespace,
    );
    const files = [...this.parsed].map(([file, manifests]) => ({
      file,
      findings: manifests.flatMap((m) => reviewManifest(m, index, this.settings)),
    }));
    return { files, names: names.map((ref) => this.namePosition(ref)) };
  }

  private namePosition(ref: ManifestRef): Position {
    const manifest = this.parsed.get(ref.file)?.[ref.manifest];
    if (!manifest) throw new RangeError(`file ${ref.file} manifest ${ref.manifest} was not parsed here`);
    return locate(manifest, ['metadata', 'name']);
  }
}

/** Hands out the places 0…count-1 once each, across threads when `claims` is shared. */
export function claimer(claims: Int32Array, count: number): () => number | undefined {
  return () => {
    const file = Atomics.add(claims, 0, 1);
    return file < count ? file : undefined;
  };
}

// The one entry point the webhook, `lifeboat check` and the runner share: decode, mutate, validate.
import { KIND_NAMES } from '../crds/api-constants.js';
import type { LifeboatKind, LifeboatObject } from '../crds/kinds.js';
import { MUTATING_POLICIES, VALIDATING_POLICIES } from './catalog.js';
import type { Applied, Finding, Neighbours, Operation, PolicyContext, PolicySettings } from './policy-types.js';
import { decode, type Decoded } from './schema-check.js';

export interface ReviewInput {
  /** The manifest as parsed from YAML or JSON, not yet known to be a Lifeboat object. */
  readonly document: unknown;
  /** The stored object, on UPDATE. */
  readonly old?: LifeboatObject;
  readonly operation: Operation;
  readonly neighbours: Neighbours;
  readonly settings: PolicySettings;
  /**
   * Mutate and stop: the mutating webhook's call, whose findings nobody reads (the validating
   * call judges the mutated object). Saves the validating policies and the lookups they need.
   */
  readonly mutateOnly?: boolean;
}

export interface ReviewResult {
  /** foreign: not a Lifeboat resource, left alone; invalid: cannot be judged (see findings). */
  readonly outcome: 'foreign' | 'invalid' | 'reviewed';
  /** The object after mutation, when reviewed. */
  readonly object?: LifeboatObject;
  readonly applied: readonly Applied[];
  readonly findings: readonly Finding[];
}

export function namespaceOf(obj: LifeboatObject, settings: PolicySettings): string {
  return obj.metadata.namespace ?? settings.defaultNamespace;
}

function byKind<P extends { kinds: readonly LifeboatKind[] }>(
  policies: readonly P[],
): Record<LifeboatKind, readonly P[]> {
  const table = {} as Record<LifeboatKind, readonly P[]>;
  for (const kind of KIND_NAMES) table[kind] = policies.filter((p) => p.kinds.includes(kind));
  return table;
}

const mutatorsOf = byKind(MUTATING_POLICIES);
const validatorsOf = byKind(VALIDATING_POLICIES);

type ContextBase = Omit<PolicyContext, 'object' | 'namespace'>;

function contextFor(object: LifeboatObject, base: ContextBase): PolicyContext {
  const { operation, old, neighbours, settings } = base;
  return { operation, old, neighbours, settings, object, namespace: namespaceOf(object, settings) };
}

/** Fills absent fields; never overrides. Returns a new object: the input is not touched. */
export function mutate(object: LifeboatObject, base: ContextBase): { object: LifeboatObject; applied: Applied[] } {
  // Policies copy what they write along its path (see fill), so a shallow copy suffices here.
  const draft = { ...object };
  const ctx = contextFor(object, base);
  const applied = mutatorsOf[object.kind].flatMap((p) => p.mutate(draft, ctx));
  return { object: draft, applied };
}

export function validate(object: LifeboatObject, base: ContextBase): Finding[] {
  const ctx = contextFor(object, base);
  const findings: Finding[] = [];
  // A plain loop: most policies find nothing, and this runs for every resource of a repository.
  for (const p of validatorsOf[object.kind]) {
    for (const v of p.check(ctx)) {
      findings.push({ policy: p.id, severity: v.severity ?? p.severity, path: v.path, message: v.message });
    }
  }
  return findings;
}

/** Mutation runs before validation, everywhere, so every front judges the object the API would store. */
export function review(input: ReviewInput): ReviewResult {
  return reviewDecoded(decode(input.document), input);
}

/** review() for a caller that already decoded the document (the CLI decodes once for indexing too). */
export function reviewDecoded(decoded: Decoded, input: Omit<ReviewInput, 'document'>): ReviewResult {
  if (decoded.type === 'foreign') return { outcome: 'foreign', applied: [], findings: [] };
  if (decoded.type === 'invalid') return { outcome: 'invalid', applied: [], findings: decoded.findings };
  const base: ContextBase = {
    operation: input.operation,
    neighbours: input.neighbours,
    settings: input.settings,
    old: input.old,
  };
  const { object, applied } = mutate(decoded.object, base);
  if (input.mutateOnly) return { outcome: 'reviewed', object, applied, findings: [] };
  // A field mutation filled in was copied from elsewhere (the Cluster); a problem in it is reported
  // where the user wrote it, not again on every object that inherited it.
  const inherited = (f: Finding): boolean => applied.some((a) => a.path.every((segment, i) => f.path[i] === segment));
  return { outcome: 'reviewed', object, applied, findings: validate(object, base).filter((f) => !inherited(f)) };
}

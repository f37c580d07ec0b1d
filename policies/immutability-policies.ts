// Immutability: once work has started, the spec is the record of what ran and cannot change.
import type { LifeboatObject } from '../crds/kinds.js';
import { formatPath } from './field-path.js';
import type { FieldPath, PolicyContext, ValidatingPolicy, Violation } from './policy-types.js';

const STARTED = new Set(['running', 'completed', 'failed']);

/** The first path where two JSON values differ, or undefined when they are equal. */
export function firstDifference(a: unknown, b: unknown, path: FieldPath = []): FieldPath | undefined {
  if (a === b) return undefined;
  if (
    typeof a !== 'object' ||
    typeof b !== 'object' ||
    a === null ||
    b === null ||
    Array.isArray(a) !== Array.isArray(b)
  ) {
    return path;
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const segment = Array.isArray(a) ? Number(key) : key;
    const diff = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], [
      ...path,
      segment,
    ]);
    if (diff) return diff;
  }
  return undefined;
}

function phaseOf(obj: LifeboatObject | undefined): string | undefined {
  return obj && (obj.kind === 'Backup' || obj.kind === 'Restore') ? obj.status?.phase : undefined;
}

const FINAL = new Set(['completed', 'failed']);

function frozenSpec(ctx: PolicyContext, advice: string): Violation[] {
  const phase = phaseOf(ctx.old);
  if (!ctx.old || phase === undefined || !STARTED.has(phase)) return [];
  if (FINAL.has(phase) && phaseOf(ctx.object) !== phase) {
    return [
      {
        path: ['status', 'phase'],
        message: `status.phase cannot leave ${phase}: finished work is never rerun; ${advice}`,
      },
    ];
  }
  const diff = firstDifference(ctx.old.spec, ctx.object.spec, ['spec']);
  if (!diff) return [];
  return [{ path: diff, message: `${formatPath(diff)} cannot change: this ${ctx.object.kind} is ${phase}; ${advice}` }];
}

export const immutabilityPolicies: ValidatingPolicy[] = [
  {
    id: 'LB401',
    name: 'backup-spec-immutable',
    category: 'immutability',
    severity: 'deny',
    kinds: ['Backup'],
    rule: "A Backup's spec cannot change once it is running, completed or failed, and a completed or failed phase is final.",
    rationale:
      'The spec is the record of how the archive was made and where it lives; rewriting it would make restores and retention act on a lie.',
    check: (ctx) => frozenSpec(ctx, 'create a new Backup instead'),
  },
  {
    id: 'LB402',
    name: 'restore-spec-immutable',
    category: 'immutability',
    severity: 'deny',
    kinds: ['Restore'],
    rule: "A Restore's spec cannot change once it is running, completed or failed, and a completed or failed phase is final.",
    rationale: 'A restore under way cannot switch its source or target halfway; the result would match neither.',
    check: (ctx) => frozenSpec(ctx, 'create a new Restore instead'),
  },
];

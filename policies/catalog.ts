// Every policy Lifeboat enforces, in ID order. IDs are stable: add, never renumber.
import { clusterPolicies } from './cluster-policies.js';
import { immutabilityPolicies } from './immutability-policies.js';
import { inputPolicies } from './input-policies.js';
import { mutationPolicies } from './mutation-policies.js';
import { objectStorePolicies } from './object-store-policies.js';
import type { InputPolicy, MutatingPolicy, ValidatingPolicy } from './policy-types.js';
import { recoveryPolicies } from './recovery-policies.js';
import { referencePolicies } from './reference-policies.js';
import { safetyPolicies } from './safety-policies.js';
import { trustPolicies } from './trust-policies.js';

export type CatalogEntry = InputPolicy | ValidatingPolicy | MutatingPolicy;

export const VALIDATING_POLICIES: readonly ValidatingPolicy[] = [
  ...recoveryPolicies,
  ...objectStorePolicies,
  ...immutabilityPolicies,
  ...safetyPolicies,
  ...referencePolicies,
  ...clusterPolicies,
  ...trustPolicies,
];

export const MUTATING_POLICIES: readonly MutatingPolicy[] = mutationPolicies;

export const CATALOG: readonly CatalogEntry[] = [...inputPolicies, ...VALIDATING_POLICIES, ...MUTATING_POLICIES].sort(
  (a, b) => a.id.localeCompare(b.id),
);

export function isMutating(entry: CatalogEntry): entry is MutatingPolicy {
  return 'mutate' in entry;
}

/** Looks a policy up by ID (LB101, case-insensitive) or name (recovery-one-origin). */
export function findPolicy(idOrName: string): CatalogEntry | undefined {
  const wanted = idOrName.trim().toLowerCase();
  return CATALOG.find((p) => p.id.toLowerCase() === wanted || p.name === wanted);
}

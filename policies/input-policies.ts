// Rules about the input itself. The reader and the decoder enforce them; they are listed here so
// that every ID a user can see has an entry in the catalog and in `lifeboat explain`.
import type { InputPolicy } from './policy-types.js';

const ALL_KINDS = ['Cluster', 'Backup', 'ScheduledBackup', 'Restore'] as const;

export const inputPolicies: InputPolicy[] = [
  {
    id: 'LB001',
    name: 'input-readable',
    category: 'input',
    severity: 'deny',
    kinds: ALL_KINDS,
    rule: 'Every input is a readable UTF-8 text file within the size limit.',
    rationale: 'A manifest that cannot be read cannot be checked; a silent skip would pass what was never looked at.',
  },
  {
    id: 'LB002',
    name: 'input-yaml',
    category: 'input',
    severity: 'deny',
    kinds: ALL_KINDS,
    rule: 'Every input is well-formed YAML or JSON.',
    rationale:
      'Malformed YAML is rejected by kubectl and every GitOps tool; finding it in CI is cheaper than in a failed sync.',
  },
  {
    id: 'LB003',
    name: 'input-object',
    category: 'input',
    severity: 'deny',
    kinds: ALL_KINDS,
    rule: 'Every YAML document is an object (a Kubernetes manifest), or empty.',
    rationale: 'A stray list or scalar is a sign of broken indentation or a templating mistake.',
  },
  {
    id: 'LB004',
    name: 'input-schema',
    category: 'input',
    severity: 'deny',
    kinds: ALL_KINDS,
    rule: "A Lifeboat resource matches its kind's schema: known fields only, right types and values.",
    rationale:
      'The API server rejects such a manifest (unknown fields are errors, as with kubectl --validate=strict); the policies cannot judge it either.',
  },
  {
    id: 'LB005',
    name: 'input-known-kind',
    category: 'input',
    severity: 'deny',
    kinds: ALL_KINDS,
    rule: 'A resource in the lifeboat.dev group uses a served version and kind.',
    rationale:
      'An unknown version or kind is never admitted; it is usually a typo or a manifest for another Lifeboat release.',
  },
  {
    id: 'LB006',
    name: 'input-unique',
    category: 'input',
    severity: 'warn',
    kinds: ALL_KINDS,
    rule: 'Each Lifeboat resource (kind, namespace, name) appears once among the inputs.',
    rationale:
      'Two definitions, such as a kustomize base beside its overlay, make cross-object checks depend on which one is meant; only one of them will exist in the cluster.',
  },
];

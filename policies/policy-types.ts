// The shapes every policy, the engine and its callers share. No I/O.
import type { Backup, Cluster, LifeboatKind, LifeboatObject } from '../crds/kinds.js';

export type Severity = 'deny' | 'warn';
export type FieldPath = readonly (string | number)[];

/** One thing wrong with a manifest, and where. */
export interface Finding {
  readonly policy: string;
  readonly severity: Severity;
  /** Path from the object root to the offending field (or the nearest one that exists). */
  readonly path: FieldPath;
  readonly message: string;
}

export interface Violation {
  readonly path: FieldPath;
  readonly message: string;
  /** Overrides the policy's severity, e.g. a missing neighbour that cannot be proven absent offline. */
  readonly severity?: Severity;
}

/** What a Secret offers: its keys only; values never enter the policy engine. */
export interface SecretInfo {
  readonly keys: readonly string[];
  /** The Secret exists but its keys cannot be known (e.g. an ExternalSecret with dataFrom). */
  readonly anyKey?: boolean;
}

/**
 * How a policy finds the objects around the one it judges. The webhook answers from the API, the
 * CLI from the other files it was given; the engine never does I/O itself.
 */
export interface Neighbours {
  /** True when a missing neighbour is known not to exist (API lookups); false for a folder. */
  readonly authoritative: boolean;
  cluster(namespace: string, name: string): Cluster | undefined;
  backup(namespace: string, name: string): Backup | undefined;
  /** True when every Secret of a namespace can be looked up, so a missing one does not exist. */
  readonly secretsListed: boolean;
  secret(namespace: string, name: string): SecretInfo | undefined;
  /** Whether an object of this kind and name is there at all, even one that failed its schema. */
  has(kind: LifeboatKind, namespace: string, name: string): boolean;
  /** Other namespaces holding a Secret of this name; empty where Secrets cannot be listed. */
  secretNamespaces(name: string): readonly string[];
  /**
   * Every Cluster this front can see, in every namespace (the API), or among the inputs (offline);
   * undefined while it is not known yet, or where the front cannot list them (the runner).
   */
  clusters?(): readonly Cluster[] | undefined;
  /**
   * The labels of a Namespace; undefined when they cannot be known (offline without a Namespace
   * manifest among the inputs, or the runner, which does not read Namespaces).
   */
  namespaceLabels?(name: string): Readonly<Record<string, string>> | undefined;
}

export interface PolicySettings {
  /** Schedules may not fire more often than this, in seconds. */
  readonly minScheduleIntervalSeconds: number;
  /** Namespace of objects that name none, as `kubectl apply -n` would give them. */
  readonly defaultNamespace: string;
  /** Host patterns an object-store endpoint must match (see host-patterns.ts); empty or absent: any. */
  readonly allowedEndpoints?: readonly string[];
  /** Host patterns a database host must match; empty or absent: any. */
  readonly allowedDatabaseHosts?: readonly string[];
}

export const DEFAULT_SETTINGS: PolicySettings = {
  minScheduleIntervalSeconds: 300,
  defaultNamespace: 'default',
};

export type Operation = 'CREATE' | 'UPDATE';

export interface PolicyContext<T extends LifeboatObject = LifeboatObject> {
  readonly object: T;
  /** The stored object on UPDATE. */
  readonly old?: T;
  readonly operation: Operation;
  readonly namespace: string;
  readonly neighbours: Neighbours;
  readonly settings: PolicySettings;
}

export type Category =
  'input' | 'recovery' | 'object-store' | 'mutation' | 'immutability' | 'safety' | 'references' | 'cluster' | 'trust';

export interface PolicyInfo {
  /** Stable ID; add new ones, never renumber. */
  readonly id: string;
  /** Short kebab-case name, accepted wherever the ID is. */
  readonly name: string;
  readonly category: Category;
  readonly kinds: readonly LifeboatKind[];
  /** The rule in one line. */
  readonly rule: string;
  /** Why the rule exists: what goes wrong without it. */
  readonly rationale: string;
}

/** A rule about the input itself (unreadable, not YAML, not the schema): enforced by the reader and decoder. */
export interface InputPolicy extends PolicyInfo {
  readonly severity: Severity;
}

export interface ValidatingPolicy extends PolicyInfo {
  readonly severity: Severity;
  check(ctx: PolicyContext): Violation[];
}

/** A change a mutating policy made, for `lifeboat render` and the webhook's JSONPatch. */
export interface Applied {
  readonly policy: string;
  readonly path: FieldPath;
  readonly value: unknown;
}

export interface MutatingPolicy extends PolicyInfo {
  /** Fills absent fields of `draft` in place and returns what it set; never overrides a value. */
  mutate(draft: LifeboatObject, ctx: PolicyContext): Applied[];
}

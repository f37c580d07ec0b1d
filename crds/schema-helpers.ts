// Building blocks for the Lifeboat API schemas. Each helper yields a schema that is valid both
// for ajv and as a structural Kubernetes openAPIV3Schema, so one definition serves both.
import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { BACKUP_PHASES as PHASES, DNS_SUBDOMAIN_PATTERN, DURATION_PATTERN } from './api-constants.js';

export interface FieldOptions {
  readonly description: string;
  readonly [keyword: string]: unknown;
}

/** A string field; every field carries the description `kubectl explain` prints. */
export function Str(options: FieldOptions): ReturnType<typeof Type.String> {
  return Type.String({ maxLength: 4096, ...options });
}

/** A string restricted to a list of values, rendered as `enum` (not `anyOf`) so CRDs accept it. */
export function StringEnum<const T extends readonly string[]>(values: T, options: FieldOptions): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

export function Bool(options: FieldOptions): ReturnType<typeof Type.Boolean> {
  return Type.Boolean(options);
}

export function Int(options: FieldOptions): ReturnType<typeof Type.Integer> {
  return Type.Integer(options);
}

/** A map of strings (labels, annotations): `additionalProperties` without `properties`, as CRDs require. */
export function StringMap(options: FieldOptions): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: 4096 },
    ...options,
  });
}

export function Duration(options: FieldOptions): ReturnType<typeof Type.String> {
  return Type.String({ pattern: DURATION_PATTERN, maxLength: 64, ...options });
}

export function Port(description: string): ReturnType<typeof Type.Integer> {
  return Type.Integer({ minimum: 1, maximum: 65535, description });
}

/** An object whose unknown fields are errors, as with `kubectl apply --validate=strict`. */
export function Strict<T extends Parameters<typeof Type.Object>[0]>(
  properties: T,
  options: FieldOptions,
): ReturnType<typeof Type.Object<T>> {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** A reference by name to an object in the same namespace. */
export function LocalRef(description: string, maxLength = 253) {
  return Strict(
    { name: Str({ description: 'Name of the referenced object, in the same namespace.', minLength: 1, maxLength }) },
    { description },
  );
}

/** A reference to one key of a Secret in the same namespace. */
export function SecretKeyRef(description: string) {
  return Strict(
    {
      name: Str({
        description: 'Name of the Secret, in the same namespace as this resource.',
        minLength: 1,
        maxLength: 253,
      }),
      key: Str({ description: 'Key within the Secret whose value is used.', minLength: 1, maxLength: 253 }),
    },
    { description },
  );
}

/** The standard metav1.Condition shape, so kubectl and dashboards read it as they read any other. */
export const Condition = Strict(
  {
    type: Str({ description: 'Type of condition in CamelCase, e.g. Ready.', maxLength: 316 }),
    status: StringEnum(['True', 'False', 'Unknown'] as const, { description: 'Status of the condition.' }),
    observedGeneration: Type.Optional(
      Int({ description: 'The .metadata.generation the condition was set for.', minimum: 0 }),
    ),
    lastTransitionTime: Str({ description: 'Last time the condition changed status.', format: 'date-time' }),
    reason: Str({ description: 'Machine-readable reason for the last transition, in CamelCase.', maxLength: 1024 }),
    message: Str({ description: 'Human-readable details about the last transition.', maxLength: 32768 }),
  },
  { description: 'One observation of the state of this resource.' },
);

export function Conditions(): ReturnType<typeof Type.Array<typeof Condition>> {
  return Type.Array(Condition, {
    description: 'Current observations of the state of this resource; Ready sums them up.',
    maxItems: 32,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  });
}

export const LabelSelector = Strict(
  {
    matchLabels: Type.Optional(StringMap({ description: 'Pods whose labels contain all of these match.' })),
    matchExpressions: Type.Optional(
      Type.Array(
        Strict(
          {
            key: Str({ description: 'The label key the requirement applies to.' }),
            operator: StringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const, {
              description: 'How the key relates to the values.',
            }),
            values: Type.Optional(
              Type.Array(Str({ description: 'A label value.' }), {
                description: 'Values for In and NotIn; empty for Exists and DoesNotExist.',
                maxItems: 64,
              }),
            ),
          },
          { description: 'One label selector requirement.' },
        ),
        { description: 'Requirements on pod labels, all of which must hold.', maxItems: 16 },
      ),
    ),
  },
  { description: 'A label selector over the pods of the database, as in a Deployment.' },
);

/**
 * Kubernetes object metadata as manifests carry it, for the offline checks; the CRD leaves
 * metadata to the API server. A name or a generateName is required.
 */
export function objectMeta(maxNameLength: number) {
  return Type.Object(
    {
      name: Type.Optional(
        Str({
          description: 'Name of the resource.',
          minLength: 1,
          maxLength: maxNameLength,
          pattern: DNS_SUBDOMAIN_PATTERN,
        }),
      ),
      generateName: Type.Optional(
        Str({ description: 'Prefix of a name the API server completes.', maxLength: maxNameLength - 5 }),
      ),
      namespace: Type.Optional(Str({ description: 'Namespace of the resource.', maxLength: 63 })),
      labels: Type.Optional(StringMap({ description: 'Labels of the resource.' })),
      annotations: Type.Optional(StringMap({ description: 'Annotations of the resource.' })),
    },
    { description: 'Standard object metadata.', anyOf: [{ required: ['name'] }, { required: ['generateName'] }] },
  );
}

export type { Static, TSchema };

/** The status fields every unit of work (a Backup, a Restore) reports, worded for `what`. */
export function outcomeFields(what: 'backup' | 'restore', reasons: readonly string[]) {
  return {
    phase: Type.Optional(StringEnum(PHASES, { description: `Where the ${what} is in its life.` })),
    startedAt: Type.Optional(Str({ description: `When the ${what} started.`, format: 'date-time' })),
    stoppedAt: Type.Optional(Str({ description: `When the ${what} ended.`, format: 'date-time' })),
    error: Type.Optional(Str({ description: `Why the ${what} failed, and what to do about it.`, maxLength: 32768 })),
    reason: Type.Optional(StringEnum(reasons, { description: 'Machine-readable failure reason.' })),
    conditions: Type.Optional(Conditions()),
  };
}

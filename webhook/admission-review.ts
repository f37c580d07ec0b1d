// The AdmissionReview (admission.k8s.io/v1) as the API server sends it: only the fields Lifeboat
// reads, checked against a schema before anything touches them.
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';

const GroupVersionKind = Type.Object({ group: Type.String(), version: Type.String(), kind: Type.String() });

const AdmissionRequest = Type.Object({
  uid: Type.String({ minLength: 1, maxLength: 128 }),
  kind: GroupVersionKind,
  namespace: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  operation: Type.Union([
    Type.Literal('CREATE'),
    Type.Literal('UPDATE'),
    Type.Literal('DELETE'),
    Type.Literal('CONNECT'),
  ]),
  object: Type.Optional(Type.Unknown()),
  oldObject: Type.Optional(Type.Unknown()),
  dryRun: Type.Optional(Type.Boolean()),
});

const AdmissionReviewRequest = Type.Object({
  apiVersion: Type.Literal('admission.k8s.io/v1'),
  kind: Type.Literal('AdmissionReview'),
  request: AdmissionRequest,
});

export type AdmissionReview = Static<typeof AdmissionReviewRequest>;
export type AdmissionRequestType = Static<typeof AdmissionRequest>;

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: { readonly code: number; readonly reason?: string; readonly message: string };
  readonly patchType?: 'JSONPatch';
  /** Base64 of the JSON Patch. */
  readonly patch?: string;
  readonly warnings?: readonly string[];
}

export interface AdmissionReviewResponse {
  readonly apiVersion: 'admission.k8s.io/v1';
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

const ajv = new Ajv({ allErrors: false });
const check = ajv.compile(AdmissionReviewRequest);

/** The review, or what is wrong with it, in words for the HTTP 400 that answers it. */
export function parseAdmissionReview(body: unknown): { review: AdmissionReview } | { problem: string } {
  if (check(body)) return { review: body };
  const [error] = check.errors ?? [];
  const where = error?.instancePath ? error.instancePath.slice(1).replace(/\//g, '.') : 'the body';
  const allowed = (error?.params as { allowedValue?: unknown } | undefined)?.allowedValue;
  const detail = allowed === undefined ? (error?.message ?? 'is malformed') : `must be ${JSON.stringify(allowed)}`;
  return { problem: `not an admission.k8s.io/v1 AdmissionReview: ${where} ${detail}` };
}

// AdmissionReview in, AdmissionReview out, around the same engine `lifeboat check` runs. Pure: the
// caller resolves the neighbours (through the API) and carries the HTTP.
import { isDeepStrictEqual } from 'node:util';
import type { LifeboatObject } from '../crds/kinds.js';
import { review, type ReviewResult } from '../policies/engine.js';
import { formatPath } from '../policies/field-path.js';
import type { Finding, Neighbours, PolicySettings } from '../policies/policy-types.js';
import { decode } from '../policies/schema-check.js';
import { patchOperations } from './admission-patch.js';
import type {
  AdmissionRequestType,
  AdmissionResponse,
  AdmissionReview,
  AdmissionReviewResponse,
} from './admission-review.js';

export type AdmissionMode = 'mutate' | 'validate';

function envelope(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/** The stored object on UPDATE, when it is one of ours and decodes; otherwise none. */
function oldObjectOf(request: AdmissionRequestType): LifeboatObject | undefined {
  const decoded = request.operation === 'UPDATE' ? decode(request.oldObject) : undefined;
  return decoded?.type === 'lifeboat' ? decoded.object : undefined;
}

function reviewRequest(
  request: AdmissionRequestType,
  mode: AdmissionMode,
  neighbours: Neighbours,
  settings: PolicySettings,
): ReviewResult {
  return review({
    mutateOnly: mode === 'mutate',
    document: request.object,
    old: oldObjectOf(request),
    operation: request.operation === 'UPDATE' ? 'UPDATE' : 'CREATE',
    neighbours,
    // Objects in a create request may not carry their namespace yet; the request does.
    settings: { ...settings, defaultNamespace: request.namespace ?? settings.defaultNamespace },
  });
}

/** `LB101 spec.source: …`: the policy ID and the field, which kubectl prints to the user. */
function describe(f: Finding): string {
  const field = formatPath(f.path);
  return f.message.startsWith(`${field}:`) ? `${f.policy} ${f.message}` : `${f.policy} ${field}: ${f.message}`;
}

function denial(uid: string, denied: readonly Finding[]): AdmissionResponse {
  const message = denied.map(describe).join('; ');
  return { uid, allowed: false, status: { code: 403, reason: 'Forbidden', message } };
}

function warnings(findings: readonly Finding[]): string[] {
  return findings.filter((f) => f.severity === 'warn').map(describe);
}

/** A value, short enough for a message. */
function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'nothing');
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** Not a Lifeboat object: the webhook configuration sends what it should not, or the object lies. */
function foreign(request: AdmissionRequestType): Finding {
  const sent = `${request.kind.group || 'core'}/${request.kind.version} ${request.kind.kind}`;
  const object = request.object as { apiVersion?: unknown; kind?: unknown } | null | undefined;
  const actual =
    typeof object === 'object' && object !== null
      ? `apiVersion ${shown(object.apiVersion)}, kind ${shown(object.kind)}`
      : shown(object);
  return {
    policy: 'LB005',
    severity: 'deny',
    path: [],
    message: `Lifeboat does not serve this object (sent as ${sent}; it has ${actual}); fix the webhook configuration's rules`,
  };
}

const BOOKKEEPING_METADATA = ['finalizers', 'resourceVersion', 'managedFields'];

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * What an UPDATE may change without being judged again: all but the bookkeeping of the API server
 * and runner. Shallow copies of the two levels it drops from: an update carries the object twice,
 * managedFields and all, and deep copies of both took an eighth of the webhook's own CPU time in
 * bench/webhook-bench.ts, where one review in ten is an update.
 */
export function withoutBookkeeping(doc: unknown): unknown {
  if (!isPlainRecord(doc)) return doc;
  const rest = { ...doc };
  delete rest['status'];
  const metadata = rest['metadata'];
  if (isPlainRecord(metadata)) {
    const kept = { ...metadata };
    for (const key of BOOKKEEPING_METADATA) delete kept[key];
    rest['metadata'] = kept;
  }
  return rest;
}

/**
 * The runner holds and releases its work with a finalizer: such an UPDATE changes nothing that was
 * judged when the object was written, and refusing it (a Secret deleted since, say) would leave a
 * deleted Backup unable to go.
 */
function onlyFinalizersChanged(request: AdmissionRequestType): boolean {
  // Most updates change the spec (a re-apply from Git): unequal specs answer before anything is copied.
  const spec = (doc: unknown): unknown => (isPlainRecord(doc) ? doc['spec'] : undefined);
  if (!isDeepStrictEqual(spec(request.object), spec(request.oldObject))) return false;
  return isDeepStrictEqual(withoutBookkeeping(request.object), withoutBookkeeping(request.oldObject));
}

/**
 * Answers one review. Mutation and validation run the same engine (mutate, then validate), so a
 * validating call judges exactly what the mutating call produced; dry runs answer alike, since
 * nothing here has side effects.
 */
export function admit(
  input: AdmissionReview,
  mode: AdmissionMode,
  neighbours: Neighbours,
  settings: PolicySettings,
): AdmissionReviewResponse {
  const { request } = input;
  const uid = request.uid;
  if (request.operation === 'DELETE' || request.operation === 'CONNECT') return envelope({ uid, allowed: true });
  if (request.operation === 'UPDATE' && onlyFinalizersChanged(request)) return envelope({ uid, allowed: true });
  const result = reviewRequest(request, mode, neighbours, settings);
  if (result.outcome === 'foreign') {
    // The mutating call never denies (see below); the validating call says what arrived.
    return envelope(mode === 'mutate' ? { uid, allowed: true } : denial(uid, [foreign(request)]));
  }
  const denied = result.findings.filter((f) => f.severity === 'deny');
  if (mode === 'validate') {
    return envelope(
      denied.length > 0 ? denial(uid, denied) : { uid, allowed: true, warnings: warnings(result.findings) },
    );
  }
  // The mutating call never denies: that is the validating call's job, after every mutation.
  const ops = result.object ? patchOperations(request.object as object, result.object) : [];
  if (ops.length === 0) return envelope({ uid, allowed: true });
  return envelope({
    uid,
    allowed: true,
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(ops)).toString('base64'),
  });
}

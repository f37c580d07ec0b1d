// Decoding a manifest into a Lifeboat object: is it ours, is its version known, does it match the
// schema. Errors here mean the policies cannot judge the object at all.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { API_VERSION, DNS_SUBDOMAIN_PATTERN, DURATION_PATTERN, GROUP, KIND_NAMES } from '../crds/api-constants.js';
import type { LifeboatObject } from '../crds/kinds.js';
import { loadCompiledValidators } from '../crds/validator-path.js';
import { formatPath, pointerToPath } from './field-path.js';
import type { FieldPath, Finding } from './policy-types.js';

export const SCHEMA_POLICY = 'LB004';
export const VERSION_POLICY = 'LB005';
export const NOT_OBJECT_POLICY = 'LB003';

// Importing kinds.ts would load TypeBox (~150 ms) only to learn four names.
const SERVED = new Set<string>(KIND_NAMES);

const validators = await loadCompiledValidators();

export type Decoded =
  | { readonly type: 'foreign' }
  | { readonly type: 'invalid'; readonly findings: Finding[] }
  | { readonly type: 'lifeboat'; readonly object: LifeboatObject };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(policy: string, path: FieldPath, message: string): Decoded {
  return { type: 'invalid', findings: [{ policy, severity: 'deny', path, message }] };
}

function notAnObject(doc: unknown): Decoded {
  const what = Array.isArray(doc) ? 'a list' : show(doc).slice(0, 40);
  const message = `this is ${what}, not an object; each YAML document (or List item) must be one Kubernetes manifest`;
  return invalid(NOT_OBJECT_POLICY, [], message);
}

function validatorFor(kind: unknown): ValidateFunction | undefined {
  return typeof kind === 'string' && SERVED.has(kind) ? validators[kind] : undefined;
}

export function decode(doc: unknown): Decoded {
  if (!isRecord(doc)) return notAnObject(doc);
  const apiVersion = doc['apiVersion'];
  if (typeof apiVersion !== 'string' || !apiVersion.startsWith(`${GROUP}/`)) return { type: 'foreign' };
  if (apiVersion !== API_VERSION) {
    return invalid(
      VERSION_POLICY,
      ['apiVersion'],
      `unknown version ${apiVersion}; this Lifeboat serves ${API_VERSION}`,
    );
  }
  const validate = validatorFor(doc['kind']);
  if (!validate) {
    const kinds = KIND_NAMES.join(', ');
    const what = doc['kind'] === undefined ? 'kind is missing' : `${API_VERSION} has no kind ${show(doc['kind'])}`;
    return invalid(VERSION_POLICY, ['kind'], `${what}; use one of ${kinds}`);
  }
  if (validate(doc)) return { type: 'lifeboat', object: doc as LifeboatObject };
  const findings = (validate.errors ?? []).map(toFinding).filter((f): f is Finding => f !== undefined);
  return { type: 'invalid', findings: dedupe(findings) };
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${formatPath(f.path)}\0${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function toFinding(error: ErrorObject): Finding | undefined {
  const path = pointerToPath(error.instancePath);
  const described = describe(error, path);
  if (!described) return undefined;
  const { field, text } = described;
  return { policy: SCHEMA_POLICY, severity: 'deny', path: field, message: `${formatPath(field)}: ${text}` };
}

/** A value as a message may quote it: scalars as JSON, anything else by its type. */
function show(value: unknown): string {
  return typeof value === 'object' && value !== null ? typeName(value) : String(JSON.stringify(value));
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const YAML11_BOOLEANS = new Set(['yes', 'no', 'on', 'off', 'y', 'n', 'true', 'false']);

/** Wrong types that YAML produced from what the user meant: unquoted versions, yes/no booleans. */
function typeText(expected: string, data: unknown): string {
  const base = `must be ${article(expected)}, not ${typeName(data)}`;
  if (expected === 'string' && (typeof data === 'number' || typeof data === 'boolean')) {
    return `${base}; quote it ("${String(data)}"), since YAML reads ${String(data)} unquoted as ${typeName(data)}`;
  }
  if (expected === 'boolean' && typeof data === 'string' && YAML11_BOOLEANS.has(data.toLowerCase())) {
    return `${base} ("${data}"); write true or false`;
  }
  return base;
}

// ajv reports each branch of metadata's name-or-generateName rule; one message says it all.
function requiredText(path: FieldPath, missing: string): string | undefined {
  const isMeta = path.length === 1 && path[0] === 'metadata';
  if (isMeta && missing === 'generateName') return undefined;
  return isMeta && missing === 'name'
    ? 'missing required field "name" (or generateName)'
    : `missing required field "${missing}"`;
}

function describe(error: ErrorObject, path: FieldPath): { field: FieldPath; text: string } | undefined {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const name = String(params['additionalProperty']);
      const allowed = Object.keys((error.parentSchema as { properties?: object })?.properties ?? {});
      return { field: [...path, name], text: `unknown field "${name}"; allowed here: ${allowed.join(', ')}` };
    }
    case 'required': {
      const text = requiredText(path, String(params['missingProperty']));
      return text === undefined ? undefined : { field: path, text };
    }
    case 'anyOf':
      return undefined;
    case 'enum':
      return {
        field: path,
        text: `${show(error.data)} is not allowed; use one of: ${(params['allowedValues'] as unknown[]).join(', ')}`,
      };
    case 'type':
      return { field: path, text: typeText(String(params['type']), error.data) };
    case 'format':
      return {
        field: path,
        text: `must be an RFC 3339 date-time such as 2026-05-01T12:00:00Z, not ${show(error.data)}`,
      };
    case 'pattern':
      return { field: path, text: patternText(String(params['pattern']), error.data) };
    default:
      return { field: path, text: error.message ?? 'does not match the schema' };
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function patternText(pattern: string, data: unknown): string {
  if (pattern === DURATION_PATTERN) return `must be a duration such as 30d, 26h, 15m or 1h30m, not ${show(data)}`;
  if (pattern === DNS_SUBDOMAIN_PATTERN) {
    return `${show(data)} is not a valid name: use lowercase letters, digits, "-" and ".", starting and ending with a letter or digit`;
  }
  return `${show(data)} must match ${pattern}`;
}

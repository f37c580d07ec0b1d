// JSON schemas for kubeconform, made from an API server's OpenAPI v2 document and Lifeboat's CRDs,
// because kubeconform cannot download its usual ones here. The layout and file names are those of
// kubeconform's default location (<dir>/v<version>-standalone-strict/<kind>-<group>-<version>.json),
// "strict" meaning what kubeconform -strict expects: every object schema that lists its
// properties refuses others (additionalProperties: false), unless Kubernetes itself keeps
// unknown fields there (x-kubernetes-preserve-unknown-fields).
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync, mkdtempSync } from 'node:fs';
import { dirname, join } from 'node:path';

type Schema = { [key: string]: unknown };

export interface OpenApiV2 {
  readonly definitions: Readonly<Record<string, Schema>>;
}

interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export interface CrdDocument {
  readonly spec: {
    readonly group: string;
    readonly names: { readonly kind: string };
    readonly versions: readonly { readonly name: string; readonly schema?: { readonly openAPIV3Schema?: Schema } }[];
  };
}

/** The OpenAPI document has no definition a schema refers to. */
export class SchemaReferenceError extends Error {
  readonly reason = 'SchemaReferenceMissing';
}

const DEFINITION_REF = '#/definitions/';
/** Kubernetes accepts a number or a string for these (ports, quantities); OpenAPI v2 says "string". */
const NUMBER_OR_STRING = new Set([
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString',
  'io.k8s.apimachinery.pkg.api.resource.Quantity',
]);

/** kubeconform's file name for a kind: `deployment-apps-v1.json`, `service-v1.json`. */
export function schemaFileName({ group, version, kind }: GroupVersionKind): string {
  const groupPart = group === '' ? '' : `-${group.split('.')[0] ?? group}`;
  return `${kind.toLowerCase()}${groupPart}-${version}.json`.toLowerCase();
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A schema's member, made strict: `properties` is a map of schemas, not a schema itself. */
function strictMember(key: string, value: unknown): unknown {
  if (key === 'properties' && isSchema(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSchema(v) ? strictCopy(v) : v]));
  }
  if (Array.isArray(value)) return value.map((v) => (isSchema(v) ? strictCopy(v) : v));
  if (isSchema(value) && key !== 'x-kubernetes-group-version-kind') return strictCopy(value);
  return value;
}

/** A copy of the schema as kubeconform -strict wants it (see the file comment). */
function strictCopy(schema: Schema): Schema {
  if (schema['x-kubernetes-int-or-string'] === true || schema['format'] === 'int-or-string') {
    return { oneOf: [{ type: 'string' }, { type: 'integer' }] };
  }
  const out: Schema = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, strictMember(k, v)]));
  if (schema['nullable'] === true && typeof schema['type'] === 'string') out['type'] = [schema['type'], 'null'];
  const open = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (isSchema(schema['properties']) && schema['additionalProperties'] === undefined && !open) {
    out['additionalProperties'] = false;
  }
  return out;
}

function refsOf(value: unknown, found: Set<string>): void {
  if (Array.isArray(value)) {
    for (const v of value) refsOf(v, found);
  } else if (isSchema(value)) {
    const ref = value['$ref'];
    if (typeof ref === 'string' && ref.startsWith(DEFINITION_REF)) found.add(ref.slice(DEFINITION_REF.length));
    for (const v of Object.values(value)) refsOf(v, found);
  }
}

/** The definitions a definition reaches through $ref, itself included. */
function reachable(definitions: OpenApiV2['definitions'], root: string): Map<string, Schema> {
  const out = new Map<string, Schema>();
  const todo = [root];
  while (todo.length > 0) {
    const name = todo.pop() ?? '';
    if (out.has(name)) continue;
    const def = definitions[name];
    if (!def) throw new SchemaReferenceError(`the OpenAPI document refers to ${name} but does not define it`);
    out.set(name, def);
    const refs = new Set<string>();
    refsOf(def, refs);
    todo.push(...refs);
  }
  return out;
}

function definitionSchema(name: string, def: Schema): Schema {
  return NUMBER_OR_STRING.has(name) ? { oneOf: [{ type: 'string' }, { type: 'number' }] } : strictCopy(def);
}

/**
 * A CRD's schema as kubeconform -strict wants it. A CRD may constrain only the name of its
 * objects' metadata; the API server checks the rest of ObjectMeta (namespace, labels…), so
 * metadata stays open rather than refusing every field the CRD does not list.
 */
function crdSchema(schema: Schema): Schema {
  const out = strictCopy(schema);
  const properties = out['properties'];
  const metadata = isSchema(properties) ? properties['metadata'] : undefined;
  if (isSchema(properties) && isSchema(metadata)) {
    properties['metadata'] = Object.fromEntries(Object.entries(metadata).filter(([k]) => k !== 'additionalProperties'));
  }
  return out;
}

/** One standalone schema per kind of the OpenAPI document (its definitions inlined), and per CRD version. */
export function kubeconformSchemas(openapi: OpenApiV2, crds: readonly CrdDocument[]): Map<string, Schema> {
  const files = new Map<string, Schema>();
  const crdGroups = new Set(crds.map((c) => c.spec.group));
  for (const [name, def] of Object.entries(openapi.definitions)) {
    const gvks = (def['x-kubernetes-group-version-kind'] ?? []) as GroupVersionKind[];
    // The CRDs come from the repository below, not from whatever version the server has installed.
    const kinds = gvks.filter((g) => !crdGroups.has(g.group));
    if (kinds.length === 0) continue;
    const defs = reachable(openapi.definitions, name);
    const definitions = Object.fromEntries([...defs].map(([n, d]) => [n, definitionSchema(n, d)]));
    for (const gvk of kinds) files.set(schemaFileName(gvk), { ...definitionSchema(name, def), definitions });
  }
  for (const crd of crds) {
    for (const version of crd.spec.versions) {
      const schema = version.schema?.openAPIV3Schema;
      if (!schema) continue;
      const gvk = { group: crd.spec.group, version: version.name, kind: crd.spec.names.kind };
      files.set(schemaFileName(gvk), crdSchema(schema));
    }
  }
  return files;
}

/**
 * Bumped whenever what kubeconformSchemas makes from the same inputs changes (2: a CRD's metadata
 * left open), so that schemas cached by an older generator are not used.
 */
const SCHEMA_FORMAT = 2;

/** A short digest of the inputs, for the cache directory's name. */
export function schemaInputsDigest(...inputs: readonly string[]): string {
  const hash = createHash('sha256').update(`schemas ${SCHEMA_FORMAT}\0`);
  for (const input of inputs) hash.update(input).update('\0');
  return hash.digest('hex').slice(0, 12);
}

/**
 * Writes the schemas under `dir/v<kubeVersion>-standalone-strict/`, unless `dir` is complete
 * already; written into a temporary directory first, so an interrupted run never looks finished.
 */
export function writeKubeconformSchemas(dir: string, kubeVersion: string, files: () => Map<string, Schema>): void {
  if (existsSync(join(dir, '.complete'))) return;
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = mkdtempSync(`${dir}.tmp.`);
  try {
    const out = join(tmp, `v${kubeVersion.replace(/^v/, '')}-standalone-strict`);
    mkdirSync(out);
    for (const [name, schema] of files()) writeFileSync(join(out, name), JSON.stringify(schema));
    writeFileSync(join(tmp, '.complete'), `${new Date().toISOString()}\n`);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

/** kubeconform's -schema-location for a directory written above. */
export function kubeconformLocation(dir: string): string {
  return join(
    dir,
    '{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}',
    '{{ .ResourceKind }}{{ .KindSuffix }}.json',
  );
}

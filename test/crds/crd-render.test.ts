import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { KIND_NAMES } from '../../crds/api-constants.js';
import { FAILURE_REASONS, FAILURE_REASON_NAMES } from '../../crds/failure-reasons.js';
import { KINDS } from '../../crds/kinds.js';
import { openApiSchema, renderCrd } from '../../crds/crd-render.js';
import { generatedFiles } from '../../cmd/generated-files.js';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';

type Schema = { [key: string]: unknown };

/** Visits every schema node with its path. */
function walk(schema: Schema, path: string, visit: (node: Schema, path: string) => void): void {
  visit(schema, path);
  const props = (schema['properties'] ?? {}) as Record<string, Schema>;
  for (const [name, child] of Object.entries(props)) walk(child, `${path}.${name}`, visit);
  const items = schema['items'] as Schema | undefined;
  if (items) walk(items, `${path}[]`, visit);
  const extra = schema['additionalProperties'];
  if (extra && typeof extra === 'object') walk(extra as Schema, `${path}{}`, visit);
}

describe('CRDs', () => {
  it('the committed generated files are up to date (run `npm run generate`)', () => {
    for (const file of generatedFiles()) {
      const committed = readFileSync(join(PACKAGE_ROOT, file.path), 'utf8');
      assert.equal(committed, file.content, `${file.path} is stale; run npm run generate and commit the result`);
    }
  });

  it('every field has a description, for kubectl explain', () => {
    for (const info of KINDS) {
      walk(openApiSchema(info), info.kind, (node, path) => {
        if (path.endsWith('.metadata') || path.endsWith('{}')) return;
        assert.ok(
          typeof node['description'] === 'string' && node['description'].length > 0,
          `${path} has no description`,
        );
      });
    }
  });

  it('schemas are structural: a type on every node, no const/anyOf/oneOf, no additionalProperties beside properties', () => {
    for (const info of KINDS) {
      walk(openApiSchema(info), info.kind, (node, path) => {
        assert.ok(typeof node['type'] === 'string', `${path} has no type`);
        for (const banned of ['const', 'anyOf', 'oneOf', 'allOf', 'patternProperties', '$id'])
          assert.ok(!(banned in node), `${path} has ${banned}`);
        assert.ok(
          !('properties' in node && 'additionalProperties' in node),
          `${path} has properties and additionalProperties`,
        );
      });
    }
  });

  it('has the status subresource, printer columns, short names and the lifeboat category', () => {
    for (const info of KINDS) {
      const crd = parse(readFileSync(join(PACKAGE_ROOT, `crds/lifeboat.dev_${info.plural}.yaml`), 'utf8')) as {
        metadata: { name: string };
        spec: {
          scope: string;
          names: { shortNames: string[]; categories: string[] };
          versions: { subresources: object; additionalPrinterColumns: { name: string }[] }[];
        };
      };
      assert.equal(crd.metadata.name, `${info.plural}.lifeboat.dev`);
      assert.equal(crd.spec.scope, 'Namespaced');
      assert.ok(crd.spec.names.shortNames.length > 0);
      assert.deepEqual(crd.spec.names.categories, ['lifeboat']);
      assert.deepEqual(crd.spec.versions[0]?.subresources, { status: {} });
      assert.ok((crd.spec.versions[0]?.additionalPrinterColumns.length ?? 0) >= 4);
    }
    const shortNames = KINDS.flatMap((k) => k.shortNames);
    assert.equal(new Set(shortNames).size, shortNames.length);
  });

  it('carries the CEL rules that keep a started Backup or Restore immutable without the webhook', () => {
    const backup = renderCrd(KINDS.find((k) => k.kind === 'Backup')!);
    assert.match(JSON.stringify(backup), /LB401: the spec of a Backup cannot change once it has started/);
    assert.match(JSON.stringify(backup), /LB401: a completed or failed Backup keeps its phase/);
    const restore = renderCrd(KINDS.find((k) => k.kind === 'Restore')!);
    assert.match(JSON.stringify(restore), /LB402/);
  });

  it('carries the CEL rules that keep a recovery’s origin unambiguous without the webhook, on Restores and bootstraps', () => {
    for (const kind of ['Restore', 'Cluster']) {
      const crd = JSON.stringify(renderCrd(KINDS.find((k) => k.kind === kind)!));
      assert.ok(crd.includes('"rule":"has(self.backup) != has(self.source)"'), `${kind}: LB101`);
      assert.ok(crd.includes('"rule":"!has(self.backupID) || has(self.source)"'), `${kind}: LB104`);
    }
  });

  it('the served kind names match the schemas', () => {
    assert.deepEqual(
      KINDS.map((k) => k.kind),
      [...KIND_NAMES],
    );
  });

  it('every failure reason is documented, unique, and allowed in Backup.status.reason', () => {
    assert.equal(new Set(FAILURE_REASON_NAMES).size, FAILURE_REASON_NAMES.length);
    for (const [reason, text] of Object.entries(FAILURE_REASONS)) {
      assert.match(reason, /^[A-Z][A-Za-z]+$/);
      assert.ok(text.length > 10, `${reason} is undocumented`);
    }
    const status = openApiSchema(KINDS.find((k) => k.kind === 'Backup')!) as {
      properties: { status: { properties: { reason: { enum: string[] } } } };
    };
    assert.deepEqual(status.properties.status.properties.reason.enum, FAILURE_REASON_NAMES);
  });

  it('caps Cluster names at 63 characters in the CRD, since they become label values', () => {
    const crd = JSON.stringify(openApiSchema(KINDS.find((k) => k.kind === 'Cluster')!));
    assert.match(
      crd,
      /"metadata":\{"type":"object","properties":\{"name":\{"description":"Name of the resource.","type":"string","maxLength":63\}\}\}/,
    );
  });
});

// Positions recorded while js-yaml reads a file must be those `yaml` gives for the same path,
// which is what `lifeboat check` reported before it recorded them: every path of every document,
// on hand-written shapes and on generated ones, is compared with SourceNodes (the `yaml` path).
import assert from 'node:assert/strict';
import * as fc from 'fast-check';
import jsyaml from 'js-yaml';
import { stringify } from 'yaml';
import { locate, parseSource, type Manifest } from '../../../policies/cli/manifest-parse.js';
import { PositionLog, recordable } from '../../../policies/cli/node-positions.js';
import { SourceNodes } from '../../../policies/cli/source-nodes.js';
import type { FieldPath } from '../../../policies/policy-types.js';

/** Every path into the value, and beside each one a key and an index that are not there. */
function pathsOf(value: unknown, prefix: FieldPath = []): FieldPath[] {
  const here: FieldPath[] = [prefix, [...prefix, 'absent'], [...prefix, 99]];
  if (Array.isArray(value)) return [...here, ...value.flatMap((v, i) => pathsOf(v, [...prefix, i]))];
  if (typeof value === 'object' && value !== null)
    return [...here, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...prefix, k]))];
  return here;
}

/** The positions `yaml` gives, as check did before positions were recorded. */
function viaYaml(nodes: SourceNodes, m: Manifest, path: FieldPath): string {
  const at = nodes.locate(m.docIndex, [...m.prefix, ...path]);
  return `${at.line}:${at.column}`;
}

function assertSamePositions(text: string): void {
  const { manifests } = parseSource({ name: 'x.yaml', text });
  const nodes = new SourceNodes(text);
  for (const m of manifests) {
    for (const path of pathsOf(m.value)) {
      const at = locate(m, path);
      assert.equal(`${at.line}:${at.column}`, viaYaml(nodes, m, path), `${JSON.stringify(path)} in\n${text}`);
    }
  }
}

/** True when the recording itself answers for this document (no fall-back to `yaml`). */
function recordedAnswers(text: string, docIndex: number, path: FieldPath): boolean {
  const log = new PositionLog(text);
  try {
    jsyaml.loadAll(text, null, { schema: jsyaml.CORE_SCHEMA, listener: log.listener });
    log.locate(docIndex, path);
    return true;
  } catch {
    return false;
  }
}

function decorate(text: string, decorations: readonly { line: number; text: string }[]): string {
  const lines = text.split('\n');
  for (const d of decorations) {
    const at = d.line % (lines.length + 1);
    if (d.text === ' # end') lines[at] = `${lines[at] ?? ''}${d.text}`;
    else lines.splice(at, 0, d.text);
  }
  const out = lines.join('\n');
  return out.endsWith('\n') ? out : `${out}\n`;
}

const RESTORE = `apiVersion: lifeboat.dev/v1alpha1
kind: Restore
metadata: {name: r, namespace: shop}
spec:
  cluster: {name: shop}   # the target
  source: old
  "backupID": 'x'
  backup:
    name: oops
`;

describe('node positions: recorded while reading, the same as yaml gives', () => {
  it('block and flow styles, quotes, comments, lists of items', () => {
    assertSamePositions(RESTORE);
    assertSamePositions(
      '# leading\n\napiVersion: v1\nkind: List\nitems:\n- apiVersion: lifeboat.dev/v1alpha1\n  kind: Backup\n  spec: {cluster: {name: a}, target: [x, {y: 1}]}\n-\n  kind: Backup\n  metadata:\n    name: "b"\n',
    );
    assertSamePositions('{apiVersion: v1, kind: "X",\n  spec: {a: [1, 2,\n   3], "b c": {d: e}}}\n');
    assertSamePositions('a: |\n  text\n  more\nb: >-\n  folded\nc:\n  - - nested\n    - list\n  -   spaced: item\n');
  });

  it('several documents: markers with comments, empty documents, CRLF, `...` and directives', () => {
    const docs = [RESTORE, RESTORE.replace('name: r', 'name: s'), RESTORE.replace('oops', 'other')];
    assertSamePositions(docs.join('---\n'));
    assertSamePositions('---\n---\n' + docs.join('--- # a comment on the marker\n\n'));
    assertSamePositions(docs.join('---\n').replace(/\n/g, '\r\n'));
    assertSamePositions(`${docs[0]}...\n---\n${docs[1]}`);
    assertSamePositions(`%YAML 1.2\n---\n${docs[0]}`);
  });

  it('findings in several documents of one file are placed in each', () => {
    const text = [RESTORE, RESTORE.replace('name: r', 'name: s')].join('---\n');
    const [first, second] = parseSource({ name: 'x.yaml', text }).manifests;
    assert.ok(first && second);
    assert.deepEqual(locate(first, ['spec', 'backup', 'name']), { line: 9, column: 5 });
    assert.deepEqual(locate(second, ['spec', 'backup', 'name']), { line: 19, column: 5 });
    assert.deepEqual(locate(second, ['spec', 'backupID']), { line: 17, column: 3 });
    assert.deepEqual(locate(second, ['metadata', 'name']), { line: 13, column: 12 });
    assert.deepEqual(locate(second, ['spec', 'absent', 'deeper']), { line: 14, column: 1 });
  });

  it('shapes js-yaml reads differently are left to yaml, with the same answers', () => {
    const shapes = [
      'a: {b, c: 1}\n', // a key without a value in a flow mapping
      'a:\n  -\n  - x\n', // an empty list item
      '? a\n: {b: 1}\n', // an explicit key
      'a: !!str 1\nb: {c: 2}\n', // a tag
    ];
    for (const text of shapes) assertSamePositions(text);
    assert.equal(recordedAnswers('a: {b, c: 1}\n', 0, ['a', 'c']), false);
    assert.equal(recordedAnswers('a:\n  -\n  - x\n', 0, ['a', 1]), false);
    assert.equal(recordable('? a\n: 1\n'), false);
    assert.equal(recordable('a: !!str 1\n'), false);
    assert.equal(recordable('a: &x 1\n'), false);
    assert.equal(recordedAnswers(RESTORE, 0, ['spec', 'backup', 'name']), true);
  });

  it('generated documents in any style', () => {
    const key = fc.constantFrom(
      'a',
      'b',
      'spec',
      'name',
      'x y',
      '1',
      'true',
      'null',
      '"q"',
      "it's",
      '#h',
      'k:v',
      'ключ',
      '😀',
    );
    const scalar = fc.oneof(
      fc.constantFrom('plain', 'with space', '', ' lead', 'colon: inside', '#hash', '- dash', '0x1F', '1e3', 'yes'),
      fc.string({ maxLength: 8, unit: 'grapheme' }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
    );
    const { value } = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        scalar,
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(key, tie('value'), { maxKeys: 4, noNullPrototype: true }),
      ),
    }));
    const dumped = fc.oneof(
      fc
        .record({ flowLevel: fc.integer({ min: -1, max: 3 }), indent: fc.integer({ min: 1, max: 4 }) })
        .map((o) => (v: unknown) => jsyaml.dump(v, { ...o, noArrayIndent: o.indent === 3 })),
      fc
        .record({ indent: fc.integer({ min: 2, max: 4 }), flow: fc.boolean(), seqIndent: fc.boolean() })
        .map(
          (o) => (v: unknown) =>
            stringify(v, { indent: o.indent, indentSeq: o.seqIndent, collectionStyle: o.flow ? 'flow' : 'any' }),
        ),
    );
    // Comments and blank lines between lines, comments at line ends: both parsers read the same text.
    const decorations = fc.array(
      fc.record({ line: fc.nat(40), text: fc.constantFrom('# note', '', '  # indented note', ' # end') }),
      { maxLength: 4 },
    );
    const doc = fc.record({
      root: fc.dictionary(key, value, { maxKeys: 5, noNullPrototype: true }),
      dump: dumped,
      decorations,
    });
    let recorded = 0;
    let documents = 0;
    fc.assert(
      fc.property(fc.array(doc, { minLength: 1, maxLength: 3 }), fc.boolean(), (docs, crlf) => {
        const text = docs.map((d) => decorate(d.dump(d.root), d.decorations)).join('---\n');
        assertSamePositions(crlf ? text.replace(/\n/g, '\r\n') : text);
        docs.forEach((d, i) => {
          documents++;
          if (recordable(text) && recordedAnswers(text, i, [])) recorded++;
        });
      }),
      { numRuns: 200 },
    );
    // Not vacuous: most documents were placed from the recording, not handed to yaml.
    assert.ok(recorded > documents / 2, `${recorded} of ${documents} documents placed from the recording`);
  });
});

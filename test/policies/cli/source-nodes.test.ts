// Locating a finding parses only the document that holds it; the positions must be those of the
// whole file, whatever the file's shape.
import assert from 'node:assert/strict';
import { SourceNodes } from '../../../policies/cli/source-nodes.js';
import { locate, parseSource } from '../../../policies/cli/manifest-parse.js';

function backup(name: string): string {
  return `apiVersion: lifeboat.dev/v1alpha1\nkind: Backup\nmetadata: {name: ${name}}\nspec:\n  cluster: {name: shop}\n`;
}

/** The line of `spec.cluster` of every manifest in the text, located through the parsed source. */
function clusterLines(text: string): number[] {
  return parseSource({ name: 'x.yaml', text }).manifests.map((m) => locate(m, ['spec', 'cluster']).line);
}

describe('SourceNodes: locating within one document', () => {
  const docs = [backup('a'), backup('b'), backup('c')];

  it('gives whole-file lines when only one document is parsed', () => {
    assert.deepEqual(clusterLines(docs.join('---\n')), [5, 11, 17]);
    assert.deepEqual(
      clusterLines('# leading comment\n---\n' + docs.join('--- # a comment on the marker\n')),
      [7, 13, 19],
    );
  });

  it('counts empty documents as the fast parser does', () => {
    assert.deepEqual(clusterLines(`---\n---\n${docs[0]}---\n---\n${docs[1]}`), [7, 14]);
  });

  it('falls back to the whole file for `...` markers and directives, with the same answers', () => {
    assert.deepEqual(clusterLines(`${docs[0]}...\n---\n${docs[1]}`), [5, 12]);
    assert.deepEqual(clusterLines(`%YAML 1.2\n---\n${docs[0]}`), [7]);
  });

  it('handles CRLF line endings', () => {
    assert.deepEqual(clusterLines(docs.join('---\n').replace(/\n/g, '\r\n')), [5, 11, 17]);
  });

  it('parses only the chunk of the document asked for', () => {
    const nodes = new SourceNodes(docs.join('---\n'), 3);
    const third = nodes.document(2);
    assert.equal(third.doc?.toJS().metadata.name, 'c');
    assert.deepEqual(third.position(0), { line: 12, column: 1 }, 'the chunk starts at its --- marker');
  });
});

// The files `npm run generate` writes; `npm test` fails when the committed copies differ.
import { renderCrdFiles, type GeneratedFile } from '../crds/crd-render.js';
import { catalogMarkdown } from '../policies/catalog-doc.js';
import { readExample } from '../policies/cli/package-paths.js';
import { installFiles } from './generate-install.js';

export const CATALOG_DOC = 'docs/policies.md';

export function generatedFiles(): GeneratedFile[] {
  const docs = catalogMarkdown((id) => ({ pass: readExample(id, 'pass'), fail: readExample(id, 'fail') }));
  return [...renderCrdFiles(), { path: CATALOG_DOC, content: docs }, ...installFiles()];
}

// Writes crds/*.yaml and docs/policies.md from their sources.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PACKAGE_ROOT } from '../policies/cli/package-paths.js';
import { generatedFiles } from './generated-files.js';

for (const file of generatedFiles()) {
  const target = join(PACKAGE_ROOT, file.path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, file.content);
  console.log(`wrote ${file.path}`);
}

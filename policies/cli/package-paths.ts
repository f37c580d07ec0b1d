// Files that ship with the package (policy examples), found from wherever the code runs.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`package.json not found above ${start}; is the Lifeboat package installed whole?`);
    dir = parent;
  }
  return dir;
}

export const PACKAGE_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

export type ExampleKind = 'pass' | 'fail';

export function examplePath(policyId: string, kind: ExampleKind): string {
  return join(PACKAGE_ROOT, 'policies', 'examples', policyId, `${kind}.yaml`);
}

/** The example manifest, or undefined for policies that have none (input rules). */
export function readExample(policyId: string, kind: ExampleKind): string | undefined {
  const path = examplePath(policyId, kind);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

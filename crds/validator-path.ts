// Where the validators compiled at build time (cmd/build-validators.ts) live, and loading them:
// the kind schemas and metadata.json's, as standalone code that starts in ~12 ms where compiling
// the schemas at start-up took ~200 ms.
import type { ValidateFunction } from 'ajv';

/** Where, under the build output, the compiled validators live. */
export const VALIDATORS_MODULE = 'crds/kind-validators.js';

/** The export that validates metadata.json; the others are named after the kinds. */
export const METADATA_VALIDATOR = 'BackupMetadata';

export type CompiledValidators = Readonly<Record<string, ValidateFunction | undefined>>;

let loaded: Promise<CompiledValidators> | undefined;

/** The compiled module, imported once; rejects saying to build when it is missing. */
export function loadCompiledValidators(): Promise<CompiledValidators> {
  loaded ??= importValidators();
  return loaded;
}

async function importValidators(): Promise<CompiledValidators> {
  const url = new URL(`../${VALIDATORS_MODULE}`, import.meta.url);
  try {
    return (await import(url.href)) as CompiledValidators;
  } catch (err) {
    throw new Error(`the compiled validators (${url.pathname}) are missing; run npm run build`, { cause: err });
  }
}

/** Where, under the build output, the validators compiled from the kind schemas live. */
export const VALIDATORS_MODULE = 'crds/kind-validators.js';

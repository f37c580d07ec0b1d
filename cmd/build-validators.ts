// Build step: writes the compiled validators next to the compiled code (dist/), never into Git.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validatorModuleCode } from '../crds/validator-code.js';
import { VALIDATORS_MODULE } from '../crds/validator-path.js';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(join(dist, VALIDATORS_MODULE), validatorModuleCode());

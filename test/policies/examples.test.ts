// Every policy has a failing and a passing example (policies/examples/<ID>/), and both behave as
// their names say when run through the real engine, the way `lifeboat check` runs them.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CATALOG, isMutating, type CatalogEntry } from '../../policies/catalog.js';
import { runCheck } from '../../policies/cli/check-run.js';
import { examplePath } from '../../policies/cli/package-paths.js';
import { DEFAULT_SETTINGS, type PolicySettings } from '../../policies/policy-types.js';
import { fileDocs, reviewWith } from '../helpers.js';
import { Readable } from 'node:stream';

const read = { maxFileBytes: 10 << 20, stdin: Readable.from([]) };

/** The flags an example is checked with (the allowlists), from settings.json beside it. */
function settingsFor(path: string): PolicySettings {
  const file = join(dirname(path), 'settings.json');
  if (!existsSync(file)) return DEFAULT_SETTINGS;
  return { ...DEFAULT_SETTINGS, ...(JSON.parse(readFileSync(file, 'utf8')) as Partial<PolicySettings>) };
}

async function checkFile(path: string) {
  return runCheck([path], settingsFor(path), read);
}

/** Immutability examples hold two documents: the stored object, then the update. */
function reviewUpdate(path: string) {
  const [old, update] = fileDocs(path);
  return reviewWith(update, { old });
}

/** Mutation examples: the last document is the one mutated; the others are its neighbours. */
function reviewLast(path: string) {
  const docs = fileDocs(path);
  return reviewWith(docs[docs.length - 1], { objects: docs.slice(0, -1) });
}

function describePolicy(entry: CatalogEntry): void {
  const fail = examplePath(entry.id, 'fail');
  const pass = examplePath(entry.id, 'pass');
  if (entry.id === 'LB001') return; // unreadable input has no YAML example; see manifest-source tests
  it(`${entry.id} ${entry.name}: has both examples`, () => {
    assert.ok(existsSync(fail), `missing ${fail}`);
    assert.ok(existsSync(pass), `missing ${pass}`);
  });
  if (isMutating(entry)) {
    it(`${entry.id}: fills the field in fail.yaml and leaves pass.yaml unchanged`, () => {
      assert.ok(reviewLast(fail).applied.some((a) => a.policy === entry.id));
      assert.deepEqual(
        reviewLast(pass).applied.filter((a) => a.policy === entry.id),
        [],
      );
    });
  } else if (entry.category === 'immutability') {
    it(`${entry.id}: refuses the update in fail.yaml and allows the one in pass.yaml`, () => {
      assert.ok(reviewUpdate(fail).findings.some((f) => f.policy === entry.id && f.severity === 'deny'));
      // The examples carry no Cluster, so only the cluster-exists warning may remain.
      assert.deepEqual(
        reviewUpdate(pass).findings.map((f) => f.policy),
        ['LB603'],
      );
    });
  } else {
    it(`${entry.id}: fires on fail.yaml, and pass.yaml is clean`, async () => {
      const failed = await checkFile(fail);
      const hits = failed.findings.filter((f) => f.policy === entry.id);
      assert.ok(hits.length > 0, `${entry.id} did not fire: ${JSON.stringify(failed.findings)}`);
      assert.deepEqual((await checkFile(pass)).findings, []);
    });
  }
}

describe('policy examples', () => {
  for (const entry of CATALOG) describePolicy(entry);
});

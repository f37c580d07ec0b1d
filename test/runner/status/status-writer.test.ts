// The one status helper against an API server in memory (fake API): the diff it sends, the
// resourceVersion guard, conflicts, and observedGeneration on the conditions it changes.
import assert from 'node:assert/strict';
import type { Backup } from '../../../crds/kinds.js';
import { KubeConflictError } from '../../../lib/kube-client.js';
import { setCondition } from '../../../runner/status/conditions.js';
import { mergePatch, updateOwnStatus, updateStatus, type Stored } from '../../../runner/status/status-writer.js';

import { FakeLifeboatApi } from '../reconcile/fakes.js';

const B1 = { kind: 'Backup', namespace: 'shop', name: 'b1' } as const;
const NOW = new Date('2026-01-01T00:00:00Z');

function world(status?: Record<string, unknown>): FakeLifeboatApi {
  const api = new FakeLifeboatApi();
  api.put('Backup', { metadata: { name: 'b1' }, spec: { cluster: { name: 'shop' } }, status });
  return api;
}

describe('status writer (fake API)', () => {
  it('mergePatch sends what changed, null for what was removed, and recurses into objects', () => {
    assert.deepEqual(
      mergePatch({ phase: 'running', jobName: 'h/1', nested: { a: 1, b: 2 } }, { phase: 'failed', nested: { a: 1 } }),
      { phase: 'failed', jobName: null, nested: { b: null } },
    );
    assert.deepEqual(mergePatch({ a: [1, 2] }, { a: [1, 2], b: undefined }), {});
  });

  it('patches the status subresource with the resourceVersion read, sending only the difference', async () => {
    const api = world({ phase: 'running', jobName: 'h/1' });
    const rv = api.get('Backup', 'shop', 'b1')?.metadata.resourceVersion;
    const result = await updateStatus<Backup>(api, 'Backup', 'shop', 'b1', (b) => {
      if (b.status) b.status.sha256 = 'a'.repeat(64);
    });
    assert.equal(result.changed, true);
    assert.deepEqual(api.patches, [
      { key: 'Backup/shop/b1', patch: { status: { sha256: 'a'.repeat(64) }, resourceVersion: rv } },
    ]);
    assert.equal(result.after?.status?.phase, 'running');
  });

  it('updateOwnStatus: an object of that name with another uid is left alone, answered as missing', async () => {
    const api = world({ phase: 'running' });
    const complete = (b: Stored<Backup>): void => {
      if (b.status) b.status.phase = 'completed';
    };
    const other = await updateOwnStatus<Backup>(api, { ...B1, uid: 'uid-of-a-deleted-b1' }, complete);
    assert.deepEqual(other, { changed: false, before: undefined, after: undefined });
    assert.deepEqual(api.patches, []);
    const own = await updateOwnStatus<Backup>(api, { ...B1, uid: 'uid-b1' }, complete);
    assert.equal(own.changed, true);
  });

  it('writes nothing when the change changes nothing', async () => {
    const api = world({ phase: 'completed' });
    const result = await updateStatus<Backup>(api, 'Backup', 'shop', 'b1', (b) => {
      if (b.status) b.status.phase = 'completed';
    });
    assert.equal(result.changed, false);
    assert.deepEqual(api.patches, []);
  });

  it('on 409 reads again and applies the change to the newer object', async () => {
    const api = world();
    api.beforePatch = () => {
      api.beforePatch = undefined;
      api.setStatus('Backup', 'shop', 'b1', { phase: 'running', jobName: 'other/7' });
    };
    const seen: (string | undefined)[] = [];
    const result = await updateStatus<Backup>(api, 'Backup', 'shop', 'b1', (b) => {
      seen.push(b.status?.phase);
      if (b.status?.phase === undefined) b.status = { ...b.status, phase: 'running', jobName: 'me/1' };
    });
    assert.deepEqual(seen, [undefined, 'running'], 'the second attempt saw the other claim');
    assert.equal(result.changed, false);
    assert.equal(api.get('Backup', 'shop', 'b1')?.status?.['jobName'], 'other/7');
  });

  it('gives up with KubeConflictError after five conflicts in a row', async () => {
    const api = world();
    api.conflicts = 5;
    await assert.rejects(
      updateStatus<Backup>(api, 'Backup', 'shop', 'b1', (b) => (b.status = { phase: 'running' })),
      KubeConflictError,
    );
    assert.equal(api.reads, 5);
  });

  it('reports an object that does not exist as unchanged, without writing', async () => {
    const api = world();
    const result = await updateStatus<Backup>(api, 'Backup', 'shop', 'gone', (b) => (b.status = { phase: 'failed' }));
    assert.deepEqual(result, { changed: false, before: undefined, after: undefined });
  });

  it('stamps observedGeneration on the conditions it changes, and only on those', async () => {
    const api = world();
    const stored = api.get('Backup', 'shop', 'b1');
    if (stored) stored.metadata.generation = 3;
    await updateStatus<Backup>(api, 'Backup', 'shop', 'b1', (b) => {
      b.status = {};
      setCondition(b.status, { type: 'Ready', status: 'False', reason: 'BackupRunning', message: 'm' }, NOW);
    });
    if (stored) stored.metadata.generation = 4;
    await updateStatus<Backup>(api, 'Backup', 'shop', 'b1', (b) => {
      const message = 'the worker runs';
      setCondition(b.status ?? {}, { type: 'WorkerRunning', status: 'True', reason: 'WorkerStarted', message }, NOW);
    });
    const conditions = api.get('Backup', 'shop', 'b1')?.status?.['conditions'] as {
      type: string;
      observedGeneration: number;
    }[];
    assert.deepEqual(
      conditions.map((c) => [c.type, c.observedGeneration]),
      [
        ['Ready', 3],
        ['WorkerRunning', 4],
      ],
    );
  });
});

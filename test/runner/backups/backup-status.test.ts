// What a backup worker writes goes to its own Backup only (fake API): a Backup deleted and applied
// anew under the same name, running with its own worker, is never written by the old worker.
import assert from 'node:assert/strict';
import { markCompleted, markFailed, markStarted, NoLongerRunningError } from '../../../runner/backups/backup-status.js';
import type { Finished } from '../../../runner/backups/backup-status.js';
import { EventRecorder } from '../../../runner/status/event-recorder.js';
import type { WorkerKube } from '../../../runner/worker/worker-inputs.js';
import { DumpFailedError } from '../../../runner/work-failures.js';
import { FakeLifeboatApi, silentLog } from '../reconcile/fakes.js';

function recreated(): FakeLifeboatApi {
  const api = new FakeLifeboatApi();
  api.put('Backup', {
    metadata: { name: 'b1', uid: 'uid-new' },
    spec: { cluster: { name: 'db' } },
    status: { phase: 'running', jobName: 'host/2' },
  });
  return api;
}

describe('backup status writes (fake API)', () => {
  const finished = {
    plan: { method: 'mariadb-dump' },
    archive: { key: 'old/backup.sql', size: 3, sha256: 'a'.repeat(64) },
    tool: { serverVersion: '10.11' },
    instanceName: 'db-0',
    stoppedAt: new Date('2026-01-01T00:00:00Z'),
  } as unknown as Finished;

  it('the old worker of a re-created Backup writes nothing to the new one: not completed, not failed, not started', async () => {
    const api = recreated();
    const ctx = {
      kube: api as unknown as WorkerKube,
      log: silentLog,
      events: new EventRecorder(api, { log: silentLog }),
      namespace: 'shop',
      name: 'b1',
      uid: 'uid-old',
    };
    await markCompleted(ctx, finished);
    await markFailed(ctx, new DumpFailedError('stopped by SIGTERM'));
    await assert.rejects(
      markStarted(ctx, { instanceName: 'db-0', method: 'mariadb-dump', backupId: 'x', destinationPath: 's3://b/old/' }),
      NoLongerRunningError,
    );
    assert.deepEqual(api.patches, []);
    assert.deepEqual(api.events, []);
    assert.equal(api.get('Backup', 'shop', 'b1')?.status?.['phase'], 'running');
  });

  it('its own worker writes its outcome', async () => {
    const api = recreated();
    const ctx = {
      kube: api as unknown as WorkerKube,
      log: silentLog,
      events: new EventRecorder(api, { log: silentLog }),
      namespace: 'shop',
      name: 'b1',
      uid: 'uid-new',
    };
    await markCompleted(ctx, finished);
    assert.equal(api.get('Backup', 'shop', 'b1')?.status?.['phase'], 'completed');
  });
});

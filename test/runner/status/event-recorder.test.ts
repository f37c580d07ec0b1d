// Events as the recorder writes them (fake API): the fields kubectl shows, no secrets, no throws.
import assert from 'node:assert/strict';
import type { CoreV1Event } from '@kubernetes/client-node';
import { EventRecorder, redactSecrets } from '../../../runner/status/event-recorder.js';
import { FakeClock, FakeLifeboatApi, silentLog } from '../reconcile/fakes.js';

const about = {
  kind: 'Backup' as const,
  metadata: { name: 'nightly', namespace: 'shop', uid: 'u-1', resourceVersion: '42' },
};

describe('event recorder (fake API)', () => {
  it('writes a core/v1 Event about the object, from lifeboat-runner', async () => {
    const api = new FakeLifeboatApi();
    const clock = new FakeClock();
    const recorder = new EventRecorder(api, { log: silentLog, clock, host: 'node-1' });
    await recorder.record(about, { type: 'Warning', reason: 'BackupFailed', message: 'backup failed (DumpFailed)' });
    const [event] = api.events;
    assert.ok(event);
    assert.match(event.metadata?.name ?? '', /^nightly\.[0-9a-f]+$/);
    assert.deepEqual(event.involvedObject, {
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'Backup',
      namespace: 'shop',
      name: 'nightly',
      uid: 'u-1',
      resourceVersion: '42',
    });
    assert.equal(event.type, 'Warning');
    assert.equal(event.reason, 'BackupFailed');
    assert.equal(event.count, 1);
    assert.equal(event.firstTimestamp?.getTime(), clock.now());
    assert.equal(event.lastTimestamp?.getTime(), clock.now());
    assert.deepEqual(event.source, { component: 'lifeboat-runner', host: 'node-1' });
  });

  it('gives two Events of one moment different names', async () => {
    const api = new FakeLifeboatApi();
    const recorder = new EventRecorder(api, { log: silentLog, clock: new FakeClock() });
    await recorder.record(about, { type: 'Normal', reason: 'BackupRunning', message: 'a' });
    await recorder.record(about, { type: 'Normal', reason: 'BackupCompleted', message: 'b' });
    assert.notEqual(api.events[0]?.metadata?.name, api.events[1]?.metadata?.name);
  });

  it('masks credentials in messages', () => {
    assert.equal(
      redactSecrets('cannot reach s3://AKIA:hunter2@minio:9000/b; mysql password=hunter2 token: abc'),
      'cannot reach s3://[redacted]@minio:9000/b; mysql password=[redacted] token: [redacted]',
    );
  });

  it('logs and swallows a failed write: an Event is never worth failing the work for', async () => {
    const failing = {
      createEvent: async (_ns: string, _e: CoreV1Event): Promise<void> => {
        throw new Error('forbidden');
      },
    };
    await new EventRecorder(failing, { log: silentLog }).record(about, {
      type: 'Normal',
      reason: 'BackupRunning',
      message: 'x',
    });
  });
});

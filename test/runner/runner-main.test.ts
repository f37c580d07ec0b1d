// What the runner logs when a reconcile fails: the object it was about, readable in the log.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../lib/logger.js';
import { logReconcileFailure } from '../../runner/runner-main.js';

function capture(): { lines: () => Record<string, unknown>[]; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const lines = (): Record<string, unknown>[] =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { lines, stream };
}

describe('runner: a failed reconcile in the log', () => {
  it('names the kind, namespace and name of the object (the logger censors any `key` field)', () => {
    const out = capture();
    const log = createLogger('runner', out.stream);
    logReconcileFailure(log, 'Backup/shop/nightly', new Error('create Job shop/x: forbidden'), 2000);
    const [line] = out.lines();
    assert.ok(line, 'nothing logged');
    assert.deepEqual(
      { kind: line['kind'], namespace: line['namespace'], name: line['name'], err: line['err'] },
      { kind: 'Backup', namespace: 'shop', name: 'nightly', err: 'create Job shop/x: forbidden' },
    );
    assert.equal(line['retryInMs'], 2000);
    assert.doesNotMatch(JSON.stringify(line), /\[redacted\]/);
  });
});

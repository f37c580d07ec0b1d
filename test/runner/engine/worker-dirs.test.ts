// A worker's tool directories after a worker was killed outright: the next worker removes them,
// never a live worker's (real child processes).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeWorkerDir } from '../../../runner/engine/worker-dirs.js';

describe('worker dirs', () => {
  let parent = '';
  beforeEach(() => (parent = mkdtempSync(join(tmpdir(), 'lifeboat-worker-dirs-'))));
  afterEach(() => rmSync(parent, { recursive: true, force: true }));

  it("mariabackup's work folder of a worker killed with SIGKILL is removed by the next worker; a live worker's and other prefixes are kept", async () => {
    const dead = spawn('true');
    await once(dead, 'exit');
    const left = join(parent, `lifeboat-backup-${String(dead.pid)}-abcdef`);
    const live = spawn('sleep', ['30'], { stdio: 'ignore' });
    const liveDir = join(parent, `lifeboat-backup-${String(live.pid)}-abcdef`);
    const otherPrefix = join(parent, `lifeboat-tool-${String(dead.pid)}-abcdef`);
    for (const d of [left, liveDir, otherPrefix]) mkdirSync(d);
    try {
      const made = await makeWorkerDir(parent, 'lifeboat-backup-');
      assert.match(made, new RegExp(`/lifeboat-backup-${process.pid}-[^/]+$`));
      assert.equal(existsSync(left), false, `${left} is still there`);
      assert.ok(existsSync(liveDir), 'the folder of a live worker was removed');
      assert.ok(existsSync(otherPrefix), 'a folder of another prefix was removed');
    } finally {
      live.kill('SIGKILL');
    }
  });
});

// The private option file: its text quotes every password safely, its files are private, and it
// is gone afterwards however the work ended.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { optionFileText, withToolOptions, writeToolOptions } from '../../../runner/engine/tool-options.js';

describe('tool options', () => {
  let parent = '';
  beforeEach(() => (parent = mkdtempSync(join(tmpdir(), 'lifeboat-options-test-'))));
  afterEach(() => rmSync(parent, { recursive: true, force: true }));

  it('quotes and escapes the password: quotes, backslashes, newlines, # and ; stay inside the value', () => {
    assert.equal(optionFileText('plain'), '[client]\npassword="plain"\n');
    assert.equal(optionFileText('a"b\\c\nd#e;f'), '[client]\npassword="a\\"b\\\\c\\nd#e;f"\n');
  });

  it('0600 files in a 0700 directory; TLS files only for what the Cluster gives', async () => {
    const written = await writeToolOptions(
      { user: 'u', password: 'pw', tls: { ca: 'CA PEM', cert: 'CERT PEM', verify: false, cluster: 'shop' } },
      parent,
    );
    try {
      assert.equal(statSync(dirname(written.optionsFile)).mode & 0o777, 0o700);
      for (const f of [written.optionsFile, written.tls?.ca ?? '', written.tls?.cert ?? '']) {
        assert.equal(statSync(f).mode & 0o777, 0o600, f);
      }
      assert.equal(readFileSync(written.tls?.ca ?? '', 'utf8'), 'CA PEM');
      assert.equal(written.tls?.key, undefined);
      assert.equal(written.tls?.verify, false);
      assert.equal(written.pluginDir, undefined, 'with TLS the tools may load their plugins');
    } finally {
      await written.remove();
    }
    assert.equal(existsSync(dirname(written.optionsFile)), false);
  });

  it('without TLS: an empty private plugin directory beside the option file', async () => {
    const written = await writeToolOptions({ user: 'u', password: 'pw' }, parent);
    try {
      assert.equal(dirname(written.pluginDir ?? ''), dirname(written.optionsFile));
      assert.deepEqual(readdirSync(written.pluginDir ?? ''), []);
    } finally {
      await written.remove();
    }
  });

  it('withToolOptions removes the directory when the work fails', async () => {
    let seen = '';
    await assert.rejects(
      withToolOptions(
        { user: 'u', password: 'pw' },
        (options) => {
          seen = options.optionsFile;
          return Promise.reject(new Error('tool failed'));
        },
        parent,
      ),
      /tool failed/,
    );
    assert.ok(seen !== '' && !existsSync(dirname(seen)));
  });
  it('the private directory of a worker killed with SIGKILL is removed by the next writer; a live one is kept', async () => {
    const module = new URL('../../../runner/engine/tool-options.js', import.meta.url).href;
    const script =
      `const { writeToolOptions } = await import(${JSON.stringify(module)});` +
      `const w = await writeToolOptions({ user: 'u', password: 'pw' }, process.argv[1]);` +
      `console.log(w.optionsFile); setInterval(() => {}, 1000);`;
    const killed = spawn(process.execPath, ['--input-type=module', '-e', script, parent], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(killed.stdout, 'data')) as [Buffer];
    const left = dirname(line.toString().trim());
    killed.kill('SIGKILL');
    await once(killed, 'exit');
    assert.ok(existsSync(left), 'a SIGKILL leaves the directory behind');
    const live = spawn('sleep', ['30'], { stdio: 'ignore' });
    const liveDir = join(parent, `lifeboat-tool-${String(live.pid)}-abcdef`);
    mkdirSync(liveDir);
    try {
      const written = await writeToolOptions({ user: 'u', password: 'pw' }, parent);
      await written.remove();
      assert.equal(existsSync(left), false, `${left} is still there, with the password in it`);
      assert.ok(existsSync(liveDir), 'the directory of a live worker was removed');
    } finally {
      live.kill('SIGKILL');
    }
  });
});

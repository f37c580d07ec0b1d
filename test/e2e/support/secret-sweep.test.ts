import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { KubeConfig } from '@kubernetes/client-node';
import {
  SecretSweep,
  privateKeySecret,
  redact,
  secretsIn,
  stackSecrets,
  type SweepSecret,
} from '../../../e2e/support/secret-sweep.js';
import { ProcessSampler, sampleProcessTable } from '../../../e2e/support/process-sampler.js';

const PASSWORD = 'sweep-marker-password-4f1d';
const KEY_LINE = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7sweepmarker';
const PEM = `-----BEGIN PRIVATE KEY-----\n${KEY_LINE}\nAAAA\n-----END PRIVATE KEY-----\n`;

describe('secret sweep (e2e support)', () => {
  let state: string;
  let children: ChildProcess[];

  beforeEach(() => {
    state = mkdtempSync(join(tmpdir(), 'sweep-'));
    mkdirSync(join(state, 'secrets'));
    mkdirSync(join(state, 'log'));
    mkdirSync(join(state, 'tls'));
    writeFileSync(join(state, 'secrets', 'mariadb-password'), `${PASSWORD}\n`);
    writeFileSync(join(state, 'secrets', 'short'), 'abc');
    writeFileSync(join(state, 'tls', 'client.key'), PEM);
    children = [];
  });

  afterEach(() => {
    // Each runs in a process group of its own, so what it started goes too.
    for (const child of children) if (child.pid) process.kill(-child.pid, 'SIGKILL');
    rmSync(state, { recursive: true, force: true });
  });

  function sweep(): SecretSweep {
    return new SecretSweep({ stateDir: state, kubeConfig: () => new KubeConfig(), s3: () => new S3Client({}) });
  }

  /** Starts `program` (copied under `name`, so /proc shows that name) and waits until it runs. */
  async function run(program: string, name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
    const copy = join(state, name);
    copyFileSync(program, copy);
    const child = spawn(copy, args, { env, stdio: 'ignore', detached: true });
    children.push(child);
    await new Promise((resolve) => child.once('spawn', resolve));
  }

  it('knows the generated secrets and the first base64 line of each private key, not short values', () => {
    const names = stackSecrets(state).map((s) => s.name);
    assert.deepEqual(names.sort(), ['secrets/mariadb-password', 'tls/client.key']);
    assert.equal(privateKeySecret('k', PEM)?.value, KEY_LINE);
    assert.equal(privateKeySecret('k', 'not a key'), undefined);
  });

  it('finds a secret in text and reports where without quoting it', () => {
    const secrets: SweepSecret[] = [{ name: 'db', value: PASSWORD }];
    assert.deepEqual(secretsIn(`--password=${PASSWORD}`, secrets), ['db']);
    assert.deepEqual(secretsIn('--password=other', secrets), []);
    assert.equal(redact(`mariadb -p${PASSWORD}`, secrets), 'mariadb -p<db>');
  });

  it("finds a secret written base64-encoded (a Secret's data echoed), at any offset in the encoded text", () => {
    const secrets: SweepSecret[] = [{ name: 'db', value: PASSWORD }];
    for (const before of ['', 'x', 'xy', 'password: ']) {
      const encoded = Buffer.from(`${before}${PASSWORD} and more`).toString('base64');
      assert.deepEqual(secretsIn(`data: {"password":"${encoded}"}`, secrets), ['db (base64)'], before);
    }
    assert.deepEqual(secretsIn(Buffer.from('an unrelated value of some length').toString('base64'), secrets), []);
    const where = redact(`leaked ${Buffer.from(PASSWORD).toString('base64')}`, secrets);
    assert.ok(!where.includes(Buffer.from(PASSWORD).toString('base64').slice(4, 16)), where);
  });

  it('sees a secret on a real command line and in a database tool environment, never elsewhere', async () => {
    // `; true` keeps the shell (with its arguments) alive instead of letting it exec sleep.
    await run('/bin/sh', 'sh', ['-c', 'sleep 30; true', 'sh', `--password=${PASSWORD}`]);
    await run('/bin/sleep', 'mariadb-dump', ['30'], { MYSQL_PWD: PASSWORD });
    await run('/bin/sleep', 'minio', ['31'], { MINIO_ROOT_PASSWORD: PASSWORD });
    // A server's own state transfer: mariabackup started (through a shell) by mariadbd.
    await run('/bin/sh', 'mariadbd', ['-c', `cp /bin/sleep ${state}/mariabackup && ${state}/mariabackup 32; true`], {
      MYSQL_PWD: PASSWORD,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const s = sweep();
    const samples = {
      samples: 0,
      commandLines: new Map<string, string>(),
      toolEnvironments: new Map<string, string>(),
      serverTools: new Set<string>(),
    };
    sampleProcessTable(samples);
    s.checkProcesses(samples);
    const where = s.hits.map((h) => h.where);
    assert.equal(s.hits.length, 2, where.join('\n'));
    assert.ok(
      where.some((w) =>
        /command line of process \d+: .*sh -c sleep 30; true sh --password=<secrets\/mariadb-password>/.test(w),
      ),
    );
    assert.ok(where.some((w) => /^environment of mariadb-dump \(process \d+\)$/.test(w)));
    assert.ok(!where.join('\n').includes(PASSWORD));
    assert.equal(samples.serverTools.size, 1, "the server's own mariabackup is counted apart");
  });

  it('samples in a worker thread, so a process started and ended in spawnSync is seen', async () => {
    const sampler = new ProcessSampler(20);
    await new Promise((resolve) => setTimeout(resolve, 100));
    spawnSync('/bin/sh', ['-c', 'sleep 0.3; true', 'sh', `--password=${PASSWORD}`]);
    const samples = await sampler.stop();
    const s = sweep();
    s.checkProcesses(samples);
    assert.ok(samples.samples > 5, `${samples.samples} samples`);
    assert.equal(s.hits.length, 1, s.hits.map((h) => h.where).join('\n'));
  });

  it('reads only what a log gained after it was marked', async () => {
    const log = join(state, 'log', 'runner.log');
    writeFileSync(log, `before the run: ${PASSWORD}\n`);
    const s = sweep();
    s.markLogs();
    appendFileSync(log, 'a clean line\n');
    await s.readLogs();
    assert.equal(s.hits.length, 0);
    appendFileSync(log, `leaked ${KEY_LINE}\n`);
    writeFileSync(join(state, 'log', 'new.log'), `leaked ${PASSWORD}\n`);
    await s.readLogs();
    assert.deepEqual(s.hits.map((h) => `${h.secret} ${h.where}`).sort(), [
      'secrets/mariadb-password log log/new.log',
      'tls/client.key log log/runner.log',
    ]);
  });
});

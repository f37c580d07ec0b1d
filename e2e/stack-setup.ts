// Mocha global fixtures for the e2e suite: bring the hack/ stack up (or reuse a running one),
// check every component it lists, install the CRDs, and stop the stack afterwards only if this
// run started it, so a developer's running stack survives `npm run e2e`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { apiServerReady, forgetKube, kube, kubectlOk, sweepStaleNamespaces } from './support/kube.js';
import { SecretSweep, sweepSummary } from './support/secret-sweep.js';
import { minioClient } from './support/stack-objects.js';
import {
  REPO_ROOT,
  STACK_ENV_FILE,
  forgetStackEnv,
  runHackScript,
  runningComponents,
  STATE_DIR,
  stackEnv,
  tcpReachable,
} from './support/stack.js';

let startedByUs = false;

/** Started before the stack, so the sweep also sees the command lines of the scripts that start it. */
const sweep = new SecretSweep({ stateDir: STATE_DIR, kubeConfig: () => kube().config, s3: minioClient });

function log(msg: string): void {
  console.log(`[e2e] ${msg}`);
}

/**
 * Reuse the stack if stack.env exists and the API server is ready; otherwise run hack/up.sh.
 * This run owns the stack (and stops it afterwards) only if no component was running before:
 * when up.sh merely repairs a developer's half-running stack, stopping it all would surprise them.
 */
async function ensureStack(): Promise<void> {
  if (existsSync(STACK_ENV_FILE) && (await apiServerReady())) {
    log(`reusing the running stack (${STACK_ENV_FILE}); it stays up afterwards`);
    return;
  }
  const running = runningComponents();
  startedByUs = running.length === 0; // set before up.sh: it may fail half-way, and we still clean up
  log(
    startedByUs
      ? 'no running stack; starting it with hack/up.sh (stopped again after the tests)'
      : `stack incomplete (running: ${running.join(', ')}); hack/up.sh completes it and it stays up afterwards`,
  );
  const t = Date.now();
  await runHackScript('up.sh');
  forgetStackEnv();
  forgetKube();
  log(`stack up in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

async function standaloneServersReachable(env: Readonly<Record<string, string>>): Promise<void> {
  const host = env.MARIADB_HOST ?? '127.0.0.1';
  if (env.MARIADB_PORT) await tcpReachable('MariaDB', host, Number(env.MARIADB_PORT));
  if (env.MARIADB_TARGET_PORT) await tcpReachable('the restore-target MariaDB', host, Number(env.MARIADB_TARGET_PORT));
}

/** Fails naming the first component stack.env lists that does not answer. */
async function checkComponents(): Promise<void> {
  const env = stackEnv();
  if (!(await apiServerReady(10_000)))
    throw new Error(`kube-apiserver: /readyz does not answer (KUBECONFIG=${env.KUBECONFIG ?? 'unset'})`);
  if (env.S3_ENDPOINT) await minioReady(env.S3_ENDPOINT);
  await standaloneServersReachable(env);
  const galeraPorts = (env.GALERA_PORTS ?? '').split(' ').filter((p) => p !== '');
  for (const [i, port] of galeraPorts.entries()) await tcpReachable(`Galera node ${i + 1}`, '127.0.0.1', Number(port));
  if (env.LIFEBOAT_WEBHOOK_URL) await webhookReady(env.LIFEBOAT_WEBHOOK_URL, env.LIFEBOAT_WEBHOOK_CA ?? '');
  if (env.LIFEBOAT_RUNNER_URL) await runnerHealthy(env.LIFEBOAT_RUNNER_URL);
}

async function runnerHealthy(base: string): Promise<void> {
  const url = `${base}/healthz`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) }).catch((err: unknown) => {
    throw new Error(`Lifeboat runner: ${url} does not answer (${errorText(err)}); see .lifeboat/log/runner.log`);
  });
  if (!res.ok) throw new Error(`Lifeboat runner: ${url} answered ${res.status}; see .lifeboat/log/runner.log`);
}

/** The webhook's /readyz, verified against the CA it made (stack.env names both). */
async function webhookReady(base: string, caFile: string): Promise<void> {
  const url = `${base}/readyz`;
  const answer = await new Promise<string>((resolve, reject) => {
    const req = get(url, { ca: readFileSync(caFile), timeout: 5000 }, (res) => {
      res.setEncoding('utf8');
      let body = '';
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(`${res.statusCode} ${body.trim()}`));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
  }).catch((err: unknown) => `${errorText(err)}`);
  if (answer !== '200 ready') throw new Error(`Lifeboat webhook: ${url} is not ready (${answer})`);
}

async function minioReady(endpoint: string): Promise<void> {
  const url = `${endpoint}/minio/health/ready`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) }).catch((err: unknown) => {
    throw new Error(`MinIO: ${url} does not answer (${errorText(err)})`);
  });
  if (!res.ok) throw new Error(`MinIO: ${url} answered ${res.status}`);
}

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, ...) is in its cause. */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
}

/** Server-side applies crds/*.yaml (idempotent on a reused stack) and waits until each is Established. */
function installCrds(): void {
  const files = readdirSync(join(REPO_ROOT, 'crds'))
    .filter((f) => /^lifeboat\.dev_.*\.yaml$/.test(f))
    .map((f) => join(REPO_ROOT, 'crds', f));
  if (files.length === 0) throw new Error('no crds/lifeboat.dev_*.yaml found; run npm run generate');
  // --force-conflicts: a stale field owner from an earlier `kubectl apply` must not block the suite.
  const apply = ['apply', '--server-side', '--force-conflicts', '--field-manager=lifeboat-e2e', '-o', 'name'];
  const applied = kubectlOk([...apply, ...files.flatMap((f) => ['-f', f])]);
  const names = applied.split('\n').filter((n) => n.trim() !== '');
  kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', ...names]);
  log(`CRDs installed and Established: ${names.map((n) => n.replace(/^.*\//, '')).join(', ')}`);
}

/**
 * Ctrl-C or a CI job's SIGTERM ends mocha without its global teardown; a stack this run started
 * would keep running. Stop it synchronously (hack/down.sh waits for a running up.sh's lock), then
 * exit with the signal's conventional status.
 */
function stopOnSignal(signal: 'SIGINT' | 'SIGTERM'): void {
  process.once(signal, () => {
    if (startedByUs) {
      log(`${signal}: stopping the stack this run started (hack/down.sh)`);
      spawnSync('bash', [join(REPO_ROOT, 'hack', 'down.sh')], { cwd: REPO_ROOT, stdio: 'inherit' });
    }
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

export async function mochaGlobalSetup(): Promise<void> {
  sweep.startSampling();
  stopOnSignal('SIGINT');
  stopOnSignal('SIGTERM');
  try {
    await ensureStack();
    await checkComponents().catch((err: unknown) => {
      const hint = startedByUs ? 'see the hack/up.sh output above' : 'bash hack/up.sh restarts what is down';
      throw new Error(`${err instanceof Error ? err.message : String(err)}; ${hint}`);
    });
    installCrds();
    const swept = await sweepStaleNamespaces();
    if (swept.length > 0) log(`removed ${swept.length} e2e namespace(s) left by an earlier run: ${swept.join(' ')}`);
  } catch (err) {
    // Mocha skips global teardown when setup fails: stop what we started here, then fail.
    if (startedByUs) await stopStack();
    throw err;
  }
}

export async function mochaGlobalTeardown(): Promise<void> {
  if (startedByUs) await stopStack();
}

async function stopStack(): Promise<void> {
  log('stopping the stack this run started (hack/down.sh)');
  startedByUs = false;
  await runHackScript('down.sh');
}

async function startSecretsSweep(): Promise<void> {
  await sweep.start();
}

/** Fails the suite (as its last hook) when a secret was seen anywhere the sweep looked. */
async function secretsSweepReport(this: Mocha.Context): Promise<void> {
  this.timeout(120_000);
  const { hits, counts } = await sweep.finish();
  log(sweepSummary(hits, counts));
  if (hits.length > 0)
    throw new Error(
      `secrets seen where they must never be:\n${hits.map((h) => `  ${h.secret} in ${h.where}`).join('\n')}`,
    );
}

/** Root hooks: the secrets sweep records from the first test to the last (e2e/support/secret-sweep.ts). */
export const mochaHooks = { beforeAll: startSecretsSweep, afterAll: secretsSweepReport };

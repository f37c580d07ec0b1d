// `lifeboat webhook`: wires the certificate source, the API lookups, the app and the listener, and
// keeps the background chores (CA injection, renewal) going until stopped.
import { join } from 'node:path';
import type { Server } from 'node:https';
import type { KubeClient, WebhookConfigurationKind } from '../lib/kube-client.js';
import type { Logger } from '../lib/logger.js';
import type { PolicySettings } from '../policies/policy-types.js';
import { DEFAULT_LOOKUP_CACHE, LookupCache } from './api-neighbours.js';
import { DirectoryBundleStore, type TlsBundle, type TlsBundleStore } from './self-signed-ca.js';
import { ensureShared, SecretBundleStore } from './secret-bundle-store.js';
import { TlsFiles } from './tls-files.js';
import { webhookApp } from './webhook-app.js';
import { createWebhookMetrics, type WebhookMetrics } from './webhook-metrics.js';
import {
  boundPort,
  closeGracefully,
  listenHttps,
  WebhookStartError,
  type ListenAddress,
  type ServingCertificate,
} from './webhook-server.js';

export interface WebhookOptions {
  readonly listen: ListenAddress;
  /** Serve `tls.crt` and `tls.key` from here (reloaded on change); with selfSigned, keep the CA here. */
  readonly certDir?: string;
  readonly selfSigned: boolean;
  /** With selfSigned: keep the CA in this Secret instead, shared by every replica. */
  readonly tlsSecret?: { readonly namespace: string; readonly name: string };
  /** Names and IPs the self-signed serving certificate is valid for. */
  readonly tlsHosts: readonly string[];
  /** The Mutating- and ValidatingWebhookConfiguration that get the self-signed CA. */
  readonly configurationName: string;
  readonly settings: PolicySettings;
  /** A neighbour lookup with no answer after this long fails the review, saying so; never cached. */
  readonly lookupTimeoutMs?: number;
}

export interface RunningWebhook {
  readonly port: number;
  readonly metrics: WebhookMetrics;
  stop(): Promise<void>;
}

const CONFIGURATIONS: readonly WebhookConfigurationKind[] = [
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
];
const CA_CHECK_EVERY_MS = 60_000;
const RENEW_CHECK_EVERY_MS = 12 * 60 * 60 * 1000;
const MAX_RETRY_MS = 30_000;

/** Why the webhook cannot serve yet; readiness reports the first. */
class Readiness {
  private readonly problems = new Map<string, string>();
  set(concern: string, problem: string | undefined): void {
    if (problem === undefined) this.problems.delete(concern);
    else this.problems.set(concern, problem);
  }
  first(): string | undefined {
    return this.problems.values().next().value;
  }
}

/** Runs `task` now and every `everyMs`; after a failure, again sooner, backing off to 30 s. */
function keepDoing(task: () => Promise<void>, everyMs: number): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = async (retryMs: number): Promise<void> => {
    let next = everyMs;
    let nextRetry = 1_000;
    try {
      await task();
    } catch {
      next = retryMs;
      nextRetry = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
    if (!stopped) timer = setTimeout(() => void run(nextRetry), next).unref();
  };
  void run(1_000);
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface CertificateSource {
  readonly initial: ServingCertificate;
  /** Starts following changes once the server exists. */
  follow(server: Server): { stop(): void };
}

async function fileSource(certDir: string, log: Logger): Promise<CertificateSource> {
  let serving: Server | undefined;
  const files = await TlsFiles.open({
    certFile: join(certDir, 'tls.crt'),
    keyFile: join(certDir, 'tls.key'),
    log,
    onChange: (material) => serving?.setSecureContext(material),
  });
  return {
    initial: files.current(),
    follow: (server) => {
      serving = server;
      files.watch();
      return { stop: () => files.close() };
    },
  };
}

function selfSignedStore(options: WebhookOptions, kube: KubeClient): TlsBundleStore {
  if (options.tlsSecret) return new SecretBundleStore(kube, options.tlsSecret.namespace, options.tlsSecret.name);
  if (options.certDir) return new DirectoryBundleStore(options.certDir);
  throw new WebhookStartError(
    '--self-signed keeps its CA somewhere: give --cert-dir DIR or --tls-secret NAMESPACE/NAME',
  );
}

interface SelfSignedDeps {
  readonly kube: KubeClient;
  readonly log: Logger;
  readonly readiness: Readiness;
}

/** Generates or reuses the bundle, injects its CA, and renews it before it expires. */
async function selfSignedSource(options: WebhookOptions, deps: SelfSignedDeps): Promise<CertificateSource> {
  const store = selfSignedStore(options, deps.kube);
  const first = await ensureShared(store, options.tlsHosts);
  deps.log.info({ store: store.describe(), created: first.created, replaced: first.replaced }, 'self-signed CA ready');
  let bundle: TlsBundle = first.bundle;
  const inject = async (): Promise<void> => {
    try {
      for (const kind of CONFIGURATIONS) {
        if (await deps.kube.injectCaBundle(kind, options.configurationName, bundle.caCert)) {
          deps.log.info({ kind, name: options.configurationName }, 'injected the CA into caBundle');
        }
      }
      deps.readiness.set('caBundle', undefined);
    } catch (err) {
      const problem = `cannot inject the CA into the webhook configurations ${options.configurationName}: ${errorText(err)}`;
      deps.readiness.set('caBundle', problem);
      deps.log.warn({ err: errorText(err) }, 'CA injection failed; retrying');
      throw err;
    }
  };
  deps.readiness.set('caBundle', 'the CA has not been injected into the webhook configurations yet');
  return {
    initial: first.bundle,
    follow: (server) => {
      const injecting = keepDoing(inject, CA_CHECK_EVERY_MS);
      const renewing = keepDoing(async () => {
        const next = await ensureShared(store, options.tlsHosts);
        if (next.bundle.cert === bundle.cert) return;
        bundle = next.bundle;
        server.setSecureContext({ cert: bundle.cert, key: bundle.key });
        deps.log.info({ replaced: next.replaced }, 'serving a renewed self-signed certificate');
        await inject();
      }, RENEW_CHECK_EVERY_MS);
      return {
        stop: () => {
          injecting.stop();
          renewing.stop();
        },
      };
    },
  };
}

export async function startWebhook(
  options: WebhookOptions,
  deps: { kube: KubeClient; log: Logger },
): Promise<RunningWebhook> {
  const { kube, log } = deps;
  const readiness = new Readiness();
  const metrics = createWebhookMetrics();
  readiness.set('api', 'the API server has not been reached yet');
  if (!options.selfSigned && !options.certDir) {
    throw new WebhookStartError(
      'the webhook serves HTTPS only: give --cert-dir DIR (tls.crt, tls.key) or --self-signed',
    );
  }
  const certificates = options.selfSigned
    ? await selfSignedSource(options, { kube, log, readiness })
    : await fileSource(options.certDir ?? '', log);
  const source = new LookupCache(kube, {
    ...DEFAULT_LOOKUP_CACHE,
    ...(options.lookupTimeoutMs === undefined ? {} : { timeoutMs: options.lookupTimeoutMs }),
    observe: (result) => metrics.countLookup(result),
  });
  const app = webhookApp({ source, settings: options.settings, metrics, log, notReady: () => readiness.first() });
  const server = await listenHttps(app, options.listen, certificates.initial);
  const following = certificates.follow(server);
  const checking = keepDoing(async () => {
    try {
      await kube.checkAccess();
      readiness.set('api', undefined);
    } catch (err) {
      readiness.set('api', `cannot read lifeboat.dev objects: ${errorText(err)}`);
      throw err;
    }
  }, CA_CHECK_EVERY_MS);
  const port = boundPort(server);
  log.info({ host: options.listen.host, port }, 'webhook serving HTTPS');
  return {
    port,
    metrics,
    stop: async () => {
      readiness.set('stopping', 'shutting down');
      checking.stop();
      following.stop();
      await closeGracefully(server);
    },
  };
}

// `lifeboat webhook`: flags in, a running HTTPS admission webhook out, stopped cleanly on SIGTERM.
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_SETTINGS } from '../policies/policy-types.js';
import { parseListenAddress, type ListenAddress } from '../webhook/webhook-server.js';
import { durationOption, hostPatternsOption, untilStopped } from './cli-options.js';

interface WebhookFlags {
  listen: ListenAddress;
  certDir?: string;
  selfSigned: boolean;
  tlsSecret?: { namespace: string; name: string };
  tlsHosts?: string[];
  configuration: string;
  minScheduleInterval: number;
  allowedEndpoints?: string[];
  allowedDbHosts?: string[];
  apiTimeout: number;
}

function listenOption(text: string): ListenAddress {
  const address = parseListenAddress(text);
  if (!address) throw new InvalidArgumentError('write HOST:PORT, e.g. 0.0.0.0:9443 or 127.0.0.1:19443.');
  return address;
}

function secretOption(text: string): { namespace: string; name: string } {
  const [namespace, name, ...rest] = text.split('/');
  if (!namespace || !name || rest.length > 0) throw new InvalidArgumentError('write NAMESPACE/NAME.');
  return { namespace, name };
}

function hostsOption(text: string): string[] {
  const hosts = text
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  if (hosts.length === 0) throw new InvalidArgumentError('name at least one DNS name or IP.');
  return hosts;
}

/** The names the API server reaches the in-cluster Service by, and loopback for local runs. */
function defaultHosts(): string[] {
  const namespace = process.env['POD_NAMESPACE'] ?? 'lifeboat-system';
  return [
    `lifeboat-webhook.${namespace}.svc`,
    `lifeboat-webhook.${namespace}.svc.cluster.local`,
    'localhost',
    '127.0.0.1',
  ];
}

async function runWebhook(flags: WebhookFlags): Promise<void> {
  // Loaded here, not at the top: the Kubernetes client takes most of a second to load, which
  // `lifeboat check` in CI should not pay.
  const [{ KubeClient }, { createLogger }, { startWebhook }] = await Promise.all([
    import('../lib/kube-client.js'),
    import('../lib/logger.js'),
    import('../webhook/webhook-main.js'),
  ]);
  const log = createLogger('webhook');
  const running = await startWebhook(
    {
      listen: flags.listen,
      certDir: flags.certDir,
      selfSigned: flags.selfSigned,
      tlsSecret: flags.tlsSecret,
      tlsHosts: flags.tlsHosts ?? defaultHosts(),
      configurationName: flags.configuration,
      settings: {
        ...DEFAULT_SETTINGS,
        minScheduleIntervalSeconds: flags.minScheduleInterval,
        ...(flags.allowedEndpoints ? { allowedEndpoints: flags.allowedEndpoints } : {}),
        ...(flags.allowedDbHosts ? { allowedDatabaseHosts: flags.allowedDbHosts } : {}),
      },
      lookupTimeoutMs: flags.apiTimeout * 1000,
    },
    { kube: KubeClient.fromEnvironment({ timeoutMs: flags.apiTimeout * 1000 }), log },
  );
  await untilStopped(log, () => running.stop());
}

export function webhookCommand(root: Command): void {
  root
    .command('webhook')
    .description('serve the admission webhook over HTTPS: POST /mutate, /validate; GET /healthz, /readyz, /metrics')
    .option('--listen <host:port>', 'address to serve HTTPS on', listenOption, listenOption('0.0.0.0:9443'))
    .option(
      '--cert-dir <dir>',
      'serve tls.crt and tls.key from here, reloaded on change (with --self-signed: keep the CA here)',
    )
    .option(
      '--self-signed',
      'create a CA and serving certificate and inject the CA into the webhook configurations',
      false,
    )
    .option(
      '--tls-secret <namespace/name>',
      'with --self-signed: keep the CA in this Secret, shared by every replica',
      secretOption,
    )
    .option('--tls-hosts <names>', 'comma-separated DNS names and IPs for the self-signed certificate', hostsOption)
    .option('--configuration <name>', 'name of the webhook configurations that get the self-signed CA', 'lifeboat')
    .option(
      '--min-schedule-interval <duration>',
      'shortest allowed time between scheduled backups',
      durationOption,
      DEFAULT_SETTINGS.minScheduleIntervalSeconds,
    )
    .option(
      '--allowed-endpoints <patterns>',
      'refuse object stores whose endpoint host matches none of these comma-separated patterns (host, *.domain, *)',
      hostPatternsOption,
    )
    .option(
      '--allowed-db-hosts <patterns>',
      'refuse Clusters whose static instance hosts match none of these comma-separated patterns (host, *.domain, *)',
      hostPatternsOption,
    )
    .option(
      '--api-timeout <duration>',
      "give up on an API server call after this long; a review waiting on one is refused, saying so (keep it under the configurations' timeoutSeconds)",
      durationOption,
      3,
    )
    .action(runWebhook);
}

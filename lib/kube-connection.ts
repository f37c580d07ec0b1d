// Where the API server is and how to prove who we are, found where KubeClient.fromEnvironment
// (client-node's loadFromDefault) looks, in the same order: $KUBECONFIG, else ~/.kube/config, else
// the pod's service account. Only what one plain HTTP(S) request can carry is resolved here (a
// server, its CA, a client certificate, a bearer token); a kubeconfig that needs more (an exec
// plugin, an auth provider, basic auth, a proxy, impersonation, several files to merge) is handed
// to KubeClient instead, with the reason.
import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import jsyaml from 'js-yaml';
import { KubeApiError, noClusterError } from './kube-errors.js';

/** What a request to the API server needs. Holds credentials: never log it. */
export interface KubeConnection {
  /** The API server's URL without a trailing slash; a path in it prefixes every request. */
  readonly server: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly insecureSkipTlsVerify: boolean;
  /** The name the server's certificate must carry when it differs from the server's host. */
  readonly tlsServerName?: string;
  readonly token?: string;
  /** Read before every request: projected service account tokens rotate. */
  readonly tokenFile?: string;
  /** Where this came from (a kubeconfig and its context, or the service account), for messages. */
  readonly source: string;
}

export type ConnectionChoice =
  | { readonly kind: 'direct'; readonly connection: KubeConnection }
  | { readonly kind: 'full-client'; readonly why: string };

/** Where to look; the process's own environment by default. */
export interface ConnectionLookup {
  readonly env?: NodeJS.ProcessEnv;
  readonly serviceAccountDir?: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

type Entry = Readonly<Record<string, unknown>>;

/** A kubeconfig being read: its path, for messages and for resolving the relative paths in it. */
interface Source {
  readonly path: string;
  readonly origin: string;
}

function fail(source: Source, problem: string): never {
  throw new KubeApiError(`kubeconfig ${source.path} (${source.origin}): ${problem}`, 0);
}

/** The file's bytes; when it cannot be read, what `problem` says about the error code. */
function readOrFail(path: string, problem: (code: string) => string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new KubeApiError(problem((err as NodeJS.ErrnoException).code ?? String(err)), 0, { cause: err });
  }
}

function asEntry(value: unknown): Entry | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Entry) : undefined;
}

function text(entry: Entry | undefined, key: string, source: Source, where: string): string | undefined {
  const value = entry?.[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') fail(source, `${where}.${key} must be a string`);
  return value;
}

/** The `list[].name == name` entry's `field` (`cluster`, `user`, `context`). */
function named(config: Entry, list: string, field: string, name: string, source: Source): Entry {
  const entries = Array.isArray(config[list]) ? (config[list] as unknown[]) : [];
  const found = entries.map(asEntry).find((e) => e?.['name'] === name);
  if (!found) fail(source, `${list} has no entry named '${name}'; add it or fix the current context`);
  return asEntry(found[field]) ?? {};
}

function readFile(path: string, source: Source, what: string): Buffer {
  return readOrFail(
    path,
    (code) => `kubeconfig ${source.path} (${source.origin}): cannot read ${what} ${path} (${code}); fix the path`,
  );
}

/** PEM from `<key>-data` (base64) or from the file `<key>` names (relative to the kubeconfig). */
function pem(entry: Entry, key: string, source: Source, where: string): Buffer | undefined {
  const data = text(entry, `${key}-data`, source, where);
  if (data) return Buffer.from(data, 'base64');
  const file = text(entry, key, source, where);
  return file === undefined ? undefined : readFile(resolve(dirname(source.path), file), source, `${where}.${key}`);
}

// Each of these needs a code path only client-node has; KubeClient takes over.
const FULL_CLIENT_USER_KEYS = ['exec', 'auth-provider', 'username', 'password', 'as', 'as-groups', 'as-uid'];

function serverUrl(server: string | undefined, source: Source, where: string): string {
  if (!server) fail(source, `${where}.server is missing; set the API server's URL`);
  if (!URL.canParse(server) || !/^https?:$/.test(new URL(server).protocol)) {
    fail(source, `${where}.server '${server}' is not an http(s) URL; fix it`);
  }
  return server.replace(/\/+$/, '');
}

function load(source: Source): Entry {
  const content = readFile(source.path, source, 'the file').toString('utf8');
  let parsed: unknown;
  try {
    parsed = jsyaml.load(content);
  } catch (err) {
    if (!(err instanceof jsyaml.YAMLException)) throw err;
    // Not err.message: it quotes the lines around the mistake, which may hold a token or a key.
    fail(source, `is not valid YAML at line ${err.mark.line + 1} (${err.reason}); fix it`);
  }
  return asEntry(parsed) ?? fail(source, 'is not a kubeconfig (no mapping at the top); fix it');
}

/** The cluster and user entries of the current context, with their paths for messages. */
interface CurrentContext {
  readonly name: string;
  readonly cluster: Entry;
  readonly clusterAt: string;
  readonly user: Entry;
  readonly userAt: string;
}

function currentContext(config: Entry, source: Source): CurrentContext {
  const name =
    text(config, 'current-context', source, 'kubeconfig') ??
    fail(source, 'has no current-context; choose one with kubectl config use-context NAME');
  const context = named(config, 'contexts', 'context', name, source);
  const clusterName = text(context, 'cluster', source, `contexts[${name}].context`) ?? '';
  const userName = text(context, 'user', source, `contexts[${name}].context`);
  return {
    name,
    cluster: named(config, 'clusters', 'cluster', clusterName, source),
    clusterAt: `clusters[${clusterName}].cluster`,
    user: userName === undefined ? {} : named(config, 'users', 'user', userName, source),
    userAt: `users[${userName ?? ''}].user`,
  };
}

/** Why only KubeClient can talk as this context, or undefined when a plain request can. */
function needsFullClient({ cluster, clusterAt, user, userAt }: CurrentContext): string | undefined {
  if (cluster['proxy-url']) return `${clusterAt} has a proxy-url`;
  const key = FULL_CLIENT_USER_KEYS.find((k) => user[k] !== undefined && user[k] !== null && user[k] !== '');
  return key === undefined ? undefined : `${userAt} uses ${key}`;
}

function fromKubeconfig(source: Source): ConnectionChoice {
  const current = currentContext(load(source), source);
  const why = needsFullClient(current);
  if (why !== undefined) return { kind: 'full-client', why };
  const { cluster, clusterAt, user, userAt } = current;
  const tokenFile = text(user, 'tokenFile', source, userAt) ?? text(user, 'token-file', source, userAt);
  const connection: KubeConnection = {
    server: serverUrl(text(cluster, 'server', source, clusterAt), source, clusterAt),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    ...optional('ca', pem(cluster, 'certificate-authority', source, clusterAt)),
    ...optional('cert', pem(user, 'client-certificate', source, userAt)),
    ...optional('key', pem(user, 'client-key', source, userAt)),
    ...optional('tlsServerName', text(cluster, 'tls-server-name', source, clusterAt)),
    ...optional('token', text(user, 'token', source, userAt)),
    ...optional('tokenFile', tokenFile && resolve(dirname(source.path), tokenFile)),
    source: `kubeconfig ${source.path}, context ${current.name}`,
  };
  return { kind: 'direct', connection };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function inCluster(env: NodeJS.ProcessEnv, dir: string): ConnectionChoice {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) {
    throw new KubeApiError(
      `the service account token is mounted at ${dir} but KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is not set; run in a pod, or set KUBECONFIG`,
      0,
    );
  }
  // As client-node does: these ports are plain HTTP (kubectl proxy and the like).
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
  const connection: KubeConnection = {
    server: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    insecureSkipTlsVerify: false,
    ca: readOrFail(join(dir, 'ca.crt'), (code) => `cannot read the service account CA in ${dir} (${code})`),
    tokenFile: join(dir, 'token'),
    source: `the service account at ${dir}`,
  };
  return { kind: 'direct', connection };
}

/**
 * The connection to use, or why only KubeClient can make it. Throws KubeApiError (code 0) naming
 * the file and what to fix when a kubeconfig cannot be read, and when nothing is configured.
 */
export function resolveConnection(lookup: ConnectionLookup = {}): ConnectionChoice {
  const env = lookup.env ?? process.env;
  const files = (env['KUBECONFIG'] ?? '').split(delimiter).filter((f) => f !== '');
  if (files.length > 1) return { kind: 'full-client', why: 'KUBECONFIG names several files to merge' };
  if (files[0] !== undefined) return fromKubeconfig({ path: resolve(files[0]), origin: 'from KUBECONFIG' });
  const home = env['HOME'] ? join(env['HOME'], '.kube', 'config') : undefined;
  if (home !== undefined && existsSync(home)) return fromKubeconfig({ path: home, origin: 'the default' });
  const dir = lookup.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (existsSync(join(dir, 'token'))) return inCluster(env, dir);
  throw noClusterError();
}

/** The bearer token for the next request, read afresh from its file where it comes from one. */
export function bearerToken(connection: KubeConnection): string | undefined {
  if (connection.token !== undefined) return connection.token;
  if (connection.tokenFile === undefined) return undefined;
  const file = connection.tokenFile;
  const problem = (code: string): string => `cannot read the token file ${file} of ${connection.source} (${code})`;
  return readOrFail(file, problem).toString('utf8').trim();
}

// Errors of the one Kubernetes client wrapper: what the API server said, turned into a class per
// failure the callers act on (missing, conflict, anything else), with a message naming the call.
import type { ApiException, KubeConfig } from '@kubernetes/client-node';
import { clientNodeIfLoaded } from './client-node.js';

/** A call to the API server failed; `code` is the HTTP status (0 when the server was not reached). */
export class KubeApiError extends Error {
  readonly reason = 'KubeApiError';
  constructor(
    message: string,
    readonly code: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KubeApiError';
  }
}

/** The object is not there (404). */
export class KubeNotFoundError extends KubeApiError {}
/** Someone else changed or created the object first (409); re-read and try again. */
export class KubeConflictError extends KubeApiError {}
/** A watch asked for history the API server no longer keeps (410 Gone); list again. */
export class KubeGoneError extends KubeApiError {}

function statusMessage(body: unknown): string | undefined {
  const parsed: unknown = typeof body === 'string' ? safeJson(body) : body;
  const message = (parsed as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Neither a kubeconfig nor a pod's service account was found. */
export function noClusterError(): KubeApiError {
  return new KubeApiError('no Kubernetes cluster configured: set KUBECONFIG, or run inside a pod', 0);
}

/** The error class for an HTTP status. */
export function errorForCode(message: string, code: number, cause?: unknown): KubeApiError {
  if (code === 404) return new KubeNotFoundError(message, code, { cause });
  if (code === 409) return new KubeConflictError(message, code, { cause });
  if (code === 410) return new KubeGoneError(message, code, { cause });
  return new KubeApiError(message, code, { cause });
}

/** An answer of the API server with an error status, named after the call, with the Status message it sent. */
export function statusError(what: string, code: number, body: unknown, cause?: unknown): KubeApiError {
  return errorForCode(`${what}: ${statusMessage(body) ?? `HTTP ${code}`}`, code, cause);
}

/** The call's result, or undefined when the object is not there. */
export async function unlessNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof KubeNotFoundError) return undefined;
    throw err;
  }
}

function isApiException(err: unknown): err is ApiException<unknown> {
  const loaded = clientNodeIfLoaded();
  return loaded !== undefined && err instanceof loaded.ApiException;
}

/** The HTTP status the watch helper of client-node puts on its errors (statusCode), if any. */
function watchStatus(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Turns whatever the client threw into a KubeApiError that names the call. With the client's
 * `config`, an error that did not come from the network while its user logs in through a
 * credential plugin (kubeconfig `user.exec`) is said to be the plugin's: client-node rejects with
 * the plugin's stderr as a bare message, often empty, which said "could not be reached ()".
 */
export function apiError(what: string, err: unknown, config?: KubeConfig): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (isApiException(err)) return statusError(what, err.code, err.body, err);
  const status = watchStatus(err);
  const detail = (err instanceof Error ? err.message : String(err)).trim();
  if (status !== undefined) return errorForCode(`${what}: HTTP ${status} ${detail}`, status, err);
  const plugin = config?.getCurrentUser()?.exec as { command?: unknown } | undefined;
  if (plugin && isPluginFailure(err)) return credentialPluginError(what, String(plugin.command), err);
  return new KubeApiError(`${what}: the API server could not be reached (${detail})`, 0, { cause: err });
}

/**
 * What client-node's exec authenticator rejects with: the plugin's spawn error, a bare Error
 * carrying its stderr, or the SyntaxError of parsing its stdout. The connection's failures carry a
 * code (node-fetch's FetchError, a reset stream's ECONNRESET), and an abort is named so.
 */
function isPluginFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const { code, syscall } = err as Error & { code?: unknown; syscall?: unknown };
  if (typeof syscall === 'string' && syscall.startsWith('spawn')) return true;
  return code === undefined && err.name !== 'FetchError' && err.name !== 'AbortError';
}

function credentialPluginError(what: string, command: string, err: unknown): KubeApiError {
  const e = err instanceof Error ? (err as Error & { syscall?: unknown }) : undefined;
  // One line: plugins print several, and JSON.parse quotes what it was given, newlines and all.
  const said = (e?.message ?? String(err)).replace(/\s+/g, ' ').trim().slice(0, 500);
  const why =
    typeof e?.syscall === 'string' && e.syscall.startsWith('spawn')
      ? `could not be started (${said}): install it or fix user.exec.command in the kubeconfig`
      : e instanceof SyntaxError
        ? `did not print an ExecCredential (${said}): fix user.exec in the kubeconfig`
        : `failed (${said || 'it exited with an error and printed nothing'}): log in again, or fix user.exec in the kubeconfig`;
  return new KubeApiError(`${what}: the kubeconfig's credential plugin ${command} ${why}`, 0, { cause: err });
}

/** The status object a watch sends as an ERROR event, as an error of the right class. */
export function watchEventError(what: string, status: unknown): KubeApiError {
  const s = (status ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof s.code === 'number' ? s.code : 500;
  const message = typeof s.message === 'string' ? s.message : `HTTP ${code}`;
  return errorForCode(`${what}: ${message}`, code);
}

// Errors of the one Kubernetes client wrapper: what the API server said, turned into a class per
// failure the callers act on (missing, conflict, anything else), with a message naming the call.
import { ApiException } from '@kubernetes/client-node';

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

/** The error class for an HTTP status. */
export function errorForCode(message: string, code: number, cause?: unknown): KubeApiError {
  if (code === 404) return new KubeNotFoundError(message, code, { cause });
  if (code === 409) return new KubeConflictError(message, code, { cause });
  if (code === 410) return new KubeGoneError(message, code, { cause });
  return new KubeApiError(message, code, { cause });
}

/** The HTTP status the watch helper of client-node puts on its errors (statusCode), if any. */
function watchStatus(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** Turns whatever the client threw into a KubeApiError that names the call. */
export function apiError(what: string, err: unknown): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (err instanceof ApiException) {
    const code = (err as ApiException<unknown>).code;
    const detail = statusMessage((err as ApiException<unknown>).body) ?? `HTTP ${code}`;
    return errorForCode(`${what}: ${detail}`, code, err);
  }
  const status = watchStatus(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (status !== undefined) return errorForCode(`${what}: HTTP ${status} ${detail}`, status, err);
  return new KubeApiError(`${what}: the API server could not be reached (${detail})`, 0, { cause: err });
}

/** The status object a watch sends as an ERROR event, as an error of the right class. */
export function watchEventError(what: string, status: unknown): KubeApiError {
  const s = (status ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof s.code === 'number' ? s.code : 500;
  const message = typeof s.message === 'string' ? s.message : `HTTP ${code}`;
  return errorForCode(`${what}: ${message}`, code);
}

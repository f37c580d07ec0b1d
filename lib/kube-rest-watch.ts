// Watching over the light transport (kube-rest.ts): one GET ?watch=true whose body is one JSON
// event a line, with the same callbacks and errors as kube-watch.ts (client-node's Watch). Each
// watch holds a connection of its own for minutes; it is not taken from the pool of short calls.
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { apiError, KubeApiError, statusError, watchEventError } from './kube-errors.js';
import type { WatchEventType, WatchHandle } from './kube-watch.js';

export type Requester = (
  url: URL,
  options: RequestOptions,
  onResponse: (res: IncomingMessage) => void,
) => ClientRequest;

export interface WatchCall {
  readonly url: URL;
  readonly options: RequestOptions;
  readonly request: Requester;
  /** Names the watch in errors: `watch backups.lifeboat.dev in namespace shop`. */
  readonly what: string;
}

/**
 * Starts the watch: resolves once the API server answers 200, rejects (naming the call) when it
 * answers anything else or cannot be reached. Then `onDone` is called once, as in kube-watch.ts.
 */
export function streamWatch(
  call: WatchCall,
  onEvent: (type: WatchEventType, object: unknown) => void,
  onDone: (err: KubeApiError | undefined) => void,
): Promise<WatchHandle> {
  let finished = false;
  let started = false;
  const done = (err: KubeApiError | undefined): void => {
    if (finished) return;
    finished = true;
    onDone(err);
  };
  return new Promise((resolve, reject) => {
    const req = call.request(call.url, call.options, (res) => {
      if (res.statusCode !== 200) {
        void refusal(call.what, res).then(reject);
        return;
      }
      started = true;
      resolve({
        stop: () => {
          finished = true;
          req.destroy();
        },
      });
      readLines(res, (line) => {
        if (finished) return;
        const event = parseEvent(call.what, line);
        if (event instanceof Error) {
          done(event);
          req.destroy();
        } else if (event.type === 'ERROR') {
          // The API server ends the stream after an ERROR event; report it as the reason it ended.
          done(watchEventError(call.what, event.object));
          req.destroy();
        } else {
          onEvent(event.type as WatchEventType, event.object);
        }
      });
      res.on('end', () => done(undefined));
      res.on('error', (err) => done(apiError(call.what, err)));
    });
    req.on('error', (err) => (started ? done(apiError(call.what, err)) : reject(apiError(call.what, err))));
    req.end();
  });
}

function readLines(res: IncomingMessage, onLine: (line: string) => void): void {
  let pending = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    pending += chunk;
    let end = pending.indexOf('\n');
    while (end >= 0) {
      const line = pending.slice(0, end).trim();
      pending = pending.slice(end + 1);
      if (line !== '') onLine(line);
      end = pending.indexOf('\n');
    }
  });
}

function parseEvent(what: string, line: string): { type: string; object: unknown } | KubeApiError {
  try {
    const parsed = JSON.parse(line) as { type?: unknown; object?: unknown };
    if (typeof parsed.type === 'string') return { type: parsed.type, object: parsed.object };
  } catch {
    // reported below, like a line that is JSON but no event
  }
  return new KubeApiError(`${what}: the API server sent a line that is not a watch event: ${line.slice(0, 80)}`, 0);
}

async function refusal(what: string, res: IncomingMessage): Promise<KubeApiError> {
  let text = '';
  res.setEncoding('utf8');
  for await (const chunk of res) text += String(chunk);
  return statusError(what, res.statusCode ?? 0, text);
}

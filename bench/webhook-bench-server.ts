// The server side of the webhook benchmark, run as its own process by bench/webhook-bench.ts so the
// load generator never shares an event loop with it. `lifeboat` serves Lifeboat's webhook app;
// `noop` parses the same bodies with the same parser and allows everything. Both run the same
// express, body parser, limit and HTTPS listener, so what separates their figures is Lifeboat's work.
//   node dist/bench/webhook-bench-server.js --mode lifeboat|noop [--log-level warn]
// stdin: a line with the JSON list of objects the API server holds, then `stats` lines; when it
// ends, the server stops. stdout: a line {"port", "caCert"} once listening, then one line
// {"cpuMicros", "requests"} per `stats`.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import express, { type Request, type Response } from 'express';
import { KIND_NAMES } from '../crds/api-constants.js';
import type { LifeboatKind } from '../crds/kinds.js';
import { createLogger } from '../lib/logger.js';
import { DEFAULT_SETTINGS } from '../policies/policy-types.js';
import { DEFAULT_LOOKUP_CACHE, LookupCache, type ObjectSource } from '../webhook/api-neighbours.js';
import { generateSelfSigned } from '../webhook/self-signed-ca.js';
import { MAX_BODY_BYTES, webhookApp } from '../webhook/webhook-app.js';
import { createWebhookMetrics } from '../webhook/webhook-metrics.js';
import { boundPort, closeGracefully, listenHttps } from '../webhook/webhook-server.js';

const { values } = parseArgs({
  options: {
    mode: { type: 'string' },
    // Production logs every denial at info; the benchmark measures the judging, not stderr.
    'log-level': { type: 'string', default: 'warn' },
  },
});
const mode = values.mode;
if (mode !== 'lifeboat' && mode !== 'noop') {
  console.error('webhook-bench-server: give --mode lifeboat or --mode noop');
  process.exit(2);
}

/**
 * Stands in for the API server: answers from memory, as a fresh parse of the stored JSON like a
 * client's read, so the figures measure the webhook and not the API server or the network to it.
 */
class MemorySource implements ObjectSource {
  private readonly stored = new Map<string, string>();

  constructor(objects: readonly unknown[]) {
    for (const o of objects) {
      const { kind, metadata } = o as { kind: string; metadata: { namespace: string; name: string } };
      if (!(KIND_NAMES as readonly string[]).includes(kind)) throw new Error(`not a Lifeboat object: ${kind}`);
      this.stored.set(`${kind}/${metadata.namespace}/${metadata.name}`, JSON.stringify(o));
    }
  }

  getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown> {
    const text = this.stored.get(`${kind}/${namespace}/${name}`);
    return Promise.resolve(text === undefined ? undefined : JSON.parse(text));
  }
}

/** Lifeboat's webhook wired as webhook-main.ts wires it, with the API server swapped for memory. */
function lifeboatApp(objects: readonly unknown[]): express.Express {
  process.env['LIFEBOAT_LOG_LEVEL'] = values['log-level'];
  const metrics = createWebhookMetrics();
  const source = new LookupCache(new MemorySource(objects), {
    ...DEFAULT_LOOKUP_CACHE,
    observe: (result) => metrics.countLookup(result),
  });
  const log = createLogger('webhook');
  return webhookApp({ source, settings: DEFAULT_SETTINGS, metrics, log, notReady: () => undefined });
}

/** The floor: express, the same JSON parsing and app settings as webhookApp, then allow. */
function noopApp(): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const json = express.json({ limit: MAX_BODY_BYTES, type: () => true });
  const allow = (req: Request, res: Response): void => {
    const body = req.body as { request?: { uid?: unknown } } | undefined;
    res.json({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: body?.request?.uid, allowed: true },
    });
  };
  app.post('/mutate', json, allow);
  app.post('/validate', json, allow);
  return app;
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const first = await lines.next();
const objects = JSON.parse(first.done ? '[]' : first.value) as unknown[];
const app = mode === 'lifeboat' ? lifeboatApp(objects) : noopApp();
const bundle = generateSelfSigned(['127.0.0.1']);
const server = await listenHttps(app, { host: '127.0.0.1', port: 0 }, bundle);
let requests = 0;
server.on('request', () => requests++);

// Exiting through process.exit (not a signal's default) lets --cpu-prof write its profile.
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void closeGracefully(server, 1_000).then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
// stdin ends when the parent stops us or dies without doing so; either way we go too.
void (async () => {
  for (let line = await lines.next(); !line.done; line = await lines.next()) {
    if (line.value !== 'stats') continue;
    // All threads count (GC helpers too): the whole cost of serving.
    const { user, system } = process.cpuUsage();
    console.log(JSON.stringify({ cpuMicros: user + system, requests }));
  }
  stop();
})();

console.log(JSON.stringify({ port: boundPort(server), caCert: bundle.caCert }));

// The HTTP front of the webhook: AdmissionReviews in and out on /mutate and /validate, probes and
// metrics. Transport only: judging is the adapter's, lookups are the source's.
import express, { type NextFunction, type Request, type Response } from 'express';
import { GROUP, KIND_NAMES } from '../crds/api-constants.js';
import type { LifeboatKind } from '../crds/kinds.js';
import type { PolicySettings } from '../policies/policy-types.js';
import type { Logger } from '../lib/logger.js';
import { admit, type AdmissionMode } from './admission-adapter.js';
import { parseAdmissionReview, type AdmissionReview, type AdmissionReviewResponse } from './admission-review.js';
import { judgeWithApi, NeighbourLookupError, type ObjectSource } from './api-neighbours.js';
import type { WebhookMetrics } from './webhook-metrics.js';

/**
 * The API server accepts request bodies of at most 3 MiB, and a Lifeboat object is a few KiB: an
 * AdmissionReview over 3 MiB is not one an API server sends for a Lifeboat object. A larger body is
 * refused with 413 before it is parsed, so a flood of large bodies costs no more than reading them.
 */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface WebhookAppDeps {
  readonly source: ObjectSource;
  readonly settings: PolicySettings;
  readonly metrics: WebhookMetrics;
  readonly log: Logger;
  /** Why the webhook cannot serve yet (no certificate, API server unreachable), or undefined. */
  readonly notReady: () => string | undefined;
}

function isKindName(kind: string): kind is LifeboatKind {
  return (KIND_NAMES as readonly string[]).includes(kind);
}

const ENDPOINTS = 'POST /mutate, POST /validate, GET /healthz, GET /readyz, GET /metrics';

/** A Kubernetes-style Status body, for answers that are not AdmissionReviews. */
function sendStatus(res: Response, code: number, message: string): void {
  res.status(code).json({ apiVersion: 'v1', kind: 'Status', status: 'Failure', code, message });
}

function lookupDenial(review: AdmissionReview, err: NeighbourLookupError): AdmissionReviewResponse {
  const { uid, kind } = review.request;
  const message =
    `Lifeboat could not check this ${kind.kind}: ${err.message}. ` +
    'Make sure the webhook can reach the API server and read lifeboat.dev objects, then apply again.';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid, allowed: false, status: { code: 503, reason: 'ServiceUnavailable', message } },
  };
}

async function judge(review: AdmissionReview, mode: AdmissionMode, deps: WebhookAppDeps) {
  try {
    return await judgeWithApi(deps.source, (neighbours) => admit(review, mode, neighbours, deps.settings));
  } catch (err) {
    if (!(err instanceof NeighbourLookupError)) throw err;
    deps.log.warn({ uid: review.request.uid, err: err.message }, 'could not read a neighbour from the API server');
    return lookupDenial(review, err);
  }
}

function record(deps: WebhookAppDeps, mode: AdmissionMode, review: AdmissionReview, out: AdmissionReviewResponse) {
  const { request } = review;
  const { allowed, status } = out.response;
  deps.metrics.countReview({
    webhook: mode,
    kind: request.kind.kind,
    operation: request.operation,
    allowed: String(allowed),
  });
  // Most reviews are admitted; at the default level their line is never built.
  if (allowed && !deps.log.isLevelEnabled('debug')) return;
  const subject = { uid: request.uid, kind: request.kind.kind, namespace: request.namespace, name: request.name };
  if (allowed) deps.log.debug({ ...subject, webhook: mode, operation: request.operation }, 'admitted');
  else deps.log.info({ ...subject, webhook: mode, message: status?.message }, 'denied');
}

/** The object under review is about to change: later reviews must not judge by its old self. */
function forgetWritten(source: ObjectSource, review: AdmissionReview): void {
  const { kind, namespace, name } = review.request;
  if (kind.group !== GROUP || !namespace || !name || !isKindName(kind.kind)) return;
  source.forget?.(kind.kind, namespace, name);
}

function reviewHandler(mode: AdmissionMode, deps: WebhookAppDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const parsed = parseAdmissionReview(req.body);
    if ('problem' in parsed) {
      deps.metrics.rejected.inc({ code: '400' });
      deps.log.info({ path: req.path, problem: parsed.problem }, 'refused a malformed review');
      sendStatus(res, 400, parsed.problem);
      return;
    }
    const started = performance.now();
    const out = await judge(parsed.review, mode, deps);
    record(deps, mode, parsed.review, out);
    if (mode === 'validate') forgetWritten(deps.source, parsed.review);
    res.json(out);
    deps.metrics.observeReview(mode, started);
  };
}

interface BodyError {
  readonly type?: unknown;
  readonly status?: unknown;
  readonly message?: unknown;
}

function isClientStatus(status: unknown): status is number {
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** What went wrong with the request body, in words for the client; undefined when it was not the body. */
function bodyProblem(err: unknown): { code: number; message: string } | undefined {
  const e = (typeof err === 'object' && err !== null ? err : {}) as BodyError;
  switch (e.type) {
    case 'entity.too.large':
      return { code: 413, message: `the body is larger than ${MAX_BODY_BYTES} bytes; send one AdmissionReview` };
    case 'entity.parse.failed':
      return { code: 400, message: `the body is not JSON (${String(e.message)}); send an AdmissionReview` };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { code: 415, message: `${String(e.message)}; send UTF-8 JSON` };
    default:
      // Aborted uploads, corrupt gzip and the like: body-parser marks them 4xx, the client's fault.
      return isClientStatus(e.status)
        ? { code: e.status, message: `the body cannot be read: ${String(e.message)}` }
        : undefined;
  }
}

function errorHandler(deps: WebhookAppDeps) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const problem = bodyProblem(err);
    if (problem) {
      // The client's fault, not ours: worth a line, not an error.
      deps.metrics.rejected.inc({ code: String(problem.code) });
      deps.log.info({ path: req.path, code: problem.code, problem: problem.message }, 'refused a request');
      if (!res.headersSent) sendStatus(res, problem.code, problem.message);
      return;
    }
    deps.log.error({ err, path: req.path }, 'failed to answer a request');
    if (!res.headersSent) sendStatus(res, 500, 'Lifeboat failed to answer this review; see the webhook log');
  };
}

export function webhookApp(deps: WebhookAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // The API server always sends JSON; parse whatever comes as JSON so a wrong body gets a clear 400.
  const json = express.json({ limit: MAX_BODY_BYTES, type: () => true });
  app.post('/mutate', json, reviewHandler('mutate', deps));
  app.post('/validate', json, reviewHandler('validate', deps));
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_req, res) => {
    const why = deps.notReady();
    res
      .status(why ? 503 : 200)
      .type('text/plain')
      .send(why ? `not ready: ${why}\n` : 'ready\n');
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.use((req, res) => sendStatus(res, 404, `no endpoint ${req.method} ${req.path}; Lifeboat serves ${ENDPOINTS}`));
  app.use(errorHandler(deps));
  return app;
}

// The webhook's Prometheus metrics (docs/design.md, "Observability"), on a registry of its own so tests can read them.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Up to the API server's webhook timeout (5 s), where a slower answer no longer matters. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface WebhookMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'webhook' | 'kind' | 'operation' | 'allowed'>;
  readonly latency: Histogram<'webhook'>;
  readonly rejected: Counter<'code'>;
  readonly lookups: Counter<'result'>;
}

export function createWebhookMetrics(options: { processMetrics: boolean } = { processMetrics: true }): WebhookMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'lifeboat_webhook_' });
  return {
    registry,
    requests: new Counter({
      name: 'lifeboat_admission_requests_total',
      help: 'AdmissionReviews answered, by webhook (mutate, validate), kind, operation and verdict.',
      labelNames: ['webhook', 'kind', 'operation', 'allowed'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'lifeboat_admission_duration_seconds',
      help: 'Time from a review arriving to its answer, API lookups included.',
      labelNames: ['webhook'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'lifeboat_admission_rejected_requests_total',
      help: 'Requests refused before review (not JSON, not an AdmissionReview, too large), by HTTP status.',
      labelNames: ['code'],
      registers: [registry],
    }),
    lookups: new Counter({
      name: 'lifeboat_admission_api_lookups_total',
      help: 'Neighbour lookups during admission: hit (cache), miss (read from the API server) or error.',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}

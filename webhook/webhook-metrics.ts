// The webhook's Prometheus metrics (docs/design.md, "Observability"), on a registry of its own so tests can read them.
import { Counter, Histogram, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client';

/** Up to the API server's webhook timeout (5 s), where a slower answer no longer matters. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type RequestLabel = 'webhook' | 'kind' | 'operation' | 'allowed';
type LookupResult = 'hit' | 'miss' | 'error';

export interface WebhookMetrics {
  readonly registry: Registry;
  readonly requests: Counter<RequestLabel>;
  readonly latency: Histogram<'webhook'>;
  readonly rejected: Counter<'code'>;
  readonly lookups: Counter<'result'>;
  /** Counts one answered review in `requests`, cheaply: see Tally. */
  countReview(labels: Readonly<Record<RequestLabel, string>>): void;
  /** Counts one neighbour lookup in `lookups`, cheaply: see Tally. */
  countLookup(result: LookupResult): void;
  /** Records in `latency` a review that began at `startedMs` (performance.now()). */
  observeReview(webhook: 'mutate' | 'validate', startedMs: number): void;
}

// One label set per webhook, made once: startTimer() copied its labels on every review.
const LATENCY_LABELS = { mutate: { webhook: 'mutate' }, validate: { webhook: 'validate' } } as const;

/**
 * Increments kept in a plain map and added to a prom-client counter when the registry is read.
 * prom-client validates and hashes the label set on every inc(), and a review counts up to four
 * times (its verdict, its lookups): prom-client took a tenth of the webhook's own CPU time in
 * bench/webhook-bench.ts, about half of it in these counters. /metrics reads the same figures.
 */
class Tally<L extends string> {
  private readonly pending = new Map<string, { readonly labels: LabelValues<L>; count: number }>();

  add(key: string, labels: () => LabelValues<L>): void {
    const entry = this.pending.get(key);
    if (entry) entry.count++;
    else this.pending.set(key, { labels: labels(), count: 1 });
  }

  flushInto(counter: Counter<L>): void {
    for (const entry of this.pending.values()) {
      if (entry.count > 0) counter.inc(entry.labels, entry.count);
      entry.count = 0;
    }
  }
}

export function createWebhookMetrics(options: { processMetrics: boolean } = { processMetrics: true }): WebhookMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'lifeboat_webhook_' });
  const reviews = new Tally<RequestLabel>();
  const lookupResults = new Tally<'result'>();
  // Made in this order (requests, latency, rejected, lookups), which /metrics keeps.
  const requests = new Counter({
    name: 'lifeboat_admission_requests_total',
    help: 'AdmissionReviews answered, by webhook (mutate, validate), kind, operation and verdict.',
    labelNames: ['webhook', 'kind', 'operation', 'allowed'],
    registers: [registry],
    collect() {
      reviews.flushInto(this);
    },
  });
  const latency = new Histogram({
    name: 'lifeboat_admission_duration_seconds',
    help: 'Time from a review arriving to its answer, API lookups included.',
    labelNames: ['webhook'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  return {
    registry,
    requests,
    latency,
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
      collect() {
        lookupResults.flushInto(this);
      },
    }),
    countReview(labels) {
      // Only the kind is free text, and it sits between values that hold no NUL: keys cannot collide.
      const key = `${labels.webhook}\0${labels.kind}\0${labels.operation}\0${labels.allowed}`;
      reviews.add(key, () => ({ ...labels }));
    },
    countLookup(result) {
      lookupResults.add(result, () => ({ result }));
    },
    observeReview(webhook, startedMs) {
      latency.observe(LATENCY_LABELS[webhook], (performance.now() - startedMs) / 1000);
    },
  };
}

// The webhook's counters as /metrics shows them: tallied reviews and lookups read the same as
// prom-client's own inc() would make them, read after read.
import assert from 'node:assert/strict';
import { createWebhookMetrics, type WebhookMetrics } from '../../webhook/webhook-metrics.js';

type Review = Parameters<WebhookMetrics['countReview']>[0];

const REVIEWS: readonly Review[] = [
  { webhook: 'mutate', kind: 'Backup', operation: 'CREATE', allowed: 'true' },
  { webhook: 'validate', kind: 'Backup', operation: 'CREATE', allowed: 'false' },
  { webhook: 'mutate', kind: 'Backup', operation: 'CREATE', allowed: 'true' },
  // Kinds are free text: one that holds the key's separator still counts apart.
  { webhook: 'validate', kind: 'A\0B', operation: 'UPDATE', allowed: 'true' },
  { webhook: 'validate', kind: 'A', operation: 'UPDATE', allowed: 'true' },
];
const LOOKUPS = ['hit', 'hit', 'miss', 'error', 'hit'] as const;

async function counters(metrics: WebhookMetrics): Promise<string> {
  const requests = await metrics.registry.getSingleMetricAsString('lifeboat_admission_requests_total');
  const lookups = await metrics.registry.getSingleMetricAsString('lifeboat_admission_api_lookups_total');
  return `${requests}\n${lookups}`;
}

describe('webhook metrics', () => {
  it('tallied reviews and lookups read as inc() makes them, and keep counting after each read', async () => {
    const tallied = createWebhookMetrics({ processMetrics: false });
    const direct = createWebhookMetrics({ processMetrics: false });
    for (let round = 0; round < 3; round++) {
      for (const r of REVIEWS) {
        tallied.countReview(r);
        direct.requests.inc({ ...r });
      }
      for (const result of LOOKUPS) {
        tallied.countLookup(result);
        direct.lookups.inc({ result });
      }
      assert.equal(await counters(tallied), await counters(direct), `after round ${round + 1}`);
    }
    // Reading without counting in between changes nothing.
    assert.equal(await counters(tallied), await counters(direct));
    assert.match(await counters(tallied), /lifeboat_admission_api_lookups_total\{result="hit"\} 9/);
  });

  it('the whole registry, as GET /metrics serves it, holds the tallied counts', async () => {
    const metrics = createWebhookMetrics({ processMetrics: false });
    metrics.countReview({ webhook: 'validate', kind: 'Restore', operation: 'CREATE', allowed: 'false' });
    metrics.countLookup('miss');
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      /lifeboat_admission_requests_total\{webhook="validate",kind="Restore",operation="CREATE",allowed="false"\} 1/,
    );
    assert.match(text, /lifeboat_admission_api_lookups_total\{result="miss"\} 1/);
  });
});

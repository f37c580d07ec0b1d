// Every metric the alerts and the dashboard query is one the runner registers, with the labels it
// has: the names come from the runner's own registry (createRunnerMetrics), not from its source.
import assert from 'node:assert/strict';
import { createRunnerMetrics } from '../../runner/runner-metrics.js';
import { dashboard, dashboardExpressions, dashboardPanels, ruleGroups } from './monitoring-files.js';

interface Registered {
  readonly labels: readonly string[];
}

/** Series names Prometheus sees for each registered metric: a histogram's _bucket, _sum, _count. */
function registeredSeries(): Map<string, Registered> {
  const series = new Map<string, Registered>();
  for (const metric of createRunnerMetrics({ processMetrics: true }).registry.getMetricsAsArray()) {
    const own = (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
    if (String(metric.type) === 'histogram') {
      series.set(`${metric.name}_bucket`, { labels: [...own, 'le'] });
      series.set(`${metric.name}_sum`, { labels: own });
      series.set(`${metric.name}_count`, { labels: own });
    } else {
      series.set(metric.name, { labels: own });
    }
  }
  return series;
}

/** Labels Prometheus adds to every scraped series (the target's), beside the runner's own. */
const TARGET_LABELS = new Set(['job', 'instance', 'pod', 'service', 'endpoint', 'container']);

const NAME = /\b(lifeboat_[a-z0-9_]+)\b/g;
const SELECTOR = /\b(lifeboat_[a-z0-9_]+)\{([^}]*)\}/g;
const GROUPING = /\b(?:by|on|without|ignoring)\s*\(([^)]*)\)/g;

function problems(expr: string, series: Map<string, Registered>): string[] {
  const found: string[] = [];
  const names = [...expr.matchAll(NAME)].map((m) => m[1] ?? '');
  for (const name of names) if (!series.has(name)) found.push(`${name} is not a metric of the runner`);
  for (const m of expr.matchAll(SELECTOR)) {
    const own = series.get(m[1] ?? '')?.labels ?? [];
    for (const label of [...(m[2] ?? '').matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1] ?? '')) {
      if (!own.includes(label)) found.push(`${m[1]} has no label ${label}`);
    }
  }
  const usable = new Set(names.flatMap((n) => series.get(n)?.labels ?? []));
  for (const m of expr.matchAll(GROUPING)) {
    for (const label of (m[1] ?? '').split(',').map((l) => l.trim())) {
      if (label && !usable.has(label) && !TARGET_LABELS.has(label))
        found.push(`no metric of it has the label ${label}`);
    }
  }
  return found;
}

describe('monitoring: metrics the alerts and the dashboard use', () => {
  const series = registeredSeries();

  it('reads the runner’s registry (sanity: the metrics the rules rest on are there)', () => {
    for (const name of [
      'lifeboat_cluster_last_backup_failed',
      'lifeboat_cluster_backup_stale',
      'lifeboat_cluster_last_backup_age_seconds',
      'lifeboat_restores_total',
      'lifeboat_backup_duration_seconds_bucket',
    ]) {
      assert.ok(series.has(name), name);
    }
    assert.deepEqual(series.get('lifeboat_cluster_backup_stale')?.labels, ['namespace', 'cluster']);
  });

  it('finds a wrong name and a wrong label (the checker itself)', () => {
    assert.deepEqual(problems('lifeboat_backups_totl{phase="failed"}', series), [
      'lifeboat_backups_totl is not a metric of the runner',
      'lifeboat_backups_totl has no label phase',
    ]);
    assert.deepEqual(problems('sum by (cluster) (lifeboat_backups_total{cluster="x"})', series), [
      'lifeboat_backups_total has no label cluster',
      'no metric of it has the label cluster',
    ]);
  });

  for (const rule of ruleGroups().flatMap((g) => g.rules)) {
    it(`alert ${rule.alert} queries registered metrics and labels`, () => {
      assert.deepEqual(problems(rule.expr, series), []);
    });
  }

  it('every dashboard query uses registered metrics and labels', () => {
    const exprs = dashboardExpressions();
    assert.ok(exprs.length >= 15, `only ${exprs.length} queries`);
    const wrong = exprs.flatMap((e) => problems(e, series).map((p) => `${e}: ${p}`));
    assert.deepEqual(wrong, []);
  });

  it('the dashboard shows what operators need, each panel querying something', () => {
    const d = dashboard();
    assert.equal(d.uid, 'lifeboat-backups');
    const panels = dashboardPanels().filter((p) => p.type !== 'row');
    for (const p of panels) assert.ok((p.targets ?? []).length > 0, `panel ${p.title} has no query`);
    const used = new Set(dashboardExpressions().flatMap((e) => [...e.matchAll(NAME)].map((m) => m[1])));
    for (const name of [
      'lifeboat_cluster_last_backup_age_seconds',
      'lifeboat_cluster_backup_stale',
      'lifeboat_backups_total',
      'lifeboat_backup_duration_seconds_bucket',
      'lifeboat_backup_size_bytes',
      'lifeboat_restores_total',
      'lifeboat_schedule_tick_delay_seconds_bucket',
      'lifeboat_retention_deleted_total',
    ]) {
      assert.ok(used.has(name), `no panel shows ${name}`);
    }
  });
});

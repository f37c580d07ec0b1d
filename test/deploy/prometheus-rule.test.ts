// The PrometheusRule of deploy/monitoring, checked and unit-tested by promtool: its spec is the
// rule file promtool reads; prometheus-rule.promtest.yaml holds series for each alert, firing and
// not. The dashboard's queries are parsed by promtool too, as recording rules.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';
import { promtool } from './promtool.js';
import { dashboardExpressions, ruleGroups } from './monitoring-files.js';

const TESTS = join(PACKAGE_ROOT, 'test', 'deploy', 'prometheus-rule.promtest.yaml');

interface PromTest {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

describe('PrometheusRule (promtool)', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-promtool-'));
    writeFileSync(join(dir, 'prometheus-rules.yaml'), stringify({ groups: ruleGroups() }));
    copyFileSync(TESTS, join(dir, 'prometheus-rule.promtest.yaml'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('passes promtool check rules', () => {
    const run = promtool(['check', 'rules', 'prometheus-rules.yaml'], dir);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /SUCCESS: \d+ rules found/);
  });

  it('passes promtool test rules', () => {
    const run = promtool(['test', 'rules', 'prometheus-rule.promtest.yaml'], dir);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /SUCCESS/);
  });

  it('has a unit test of every alert both firing and not firing', () => {
    const tests = parse(readFileSync(TESTS, 'utf8')) as PromTest;
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const rule of ruleGroups().flatMap((g) => g.rules)) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      assert.ok(
        mine.some((c) => c.exp_alerts.length > 0),
        `no promtool test expects ${rule.alert} to fire`,
      );
      assert.ok(
        mine.some((c) => c.exp_alerts.length === 0),
        `no promtool test expects ${rule.alert} to stay quiet`,
      );
    }
  });

  it('every alert names its runbook section in docs/operate.md', () => {
    const doc = readFileSync(join(PACKAGE_ROOT, 'docs', 'operate.md'), 'utf8');
    const anchors = new Set(
      [...doc.matchAll(/^#+ (.+)$/gm)].map((m) => (m[1] ?? '').toLowerCase().replace(/\W+/g, '')),
    );
    for (const rule of ruleGroups().flatMap((g) => g.rules)) {
      const runbook = rule.annotations['runbook'] ?? '';
      assert.equal(runbook, `docs/operate.md#${rule.alert.toLowerCase()}`, `${rule.alert}: runbook annotation`);
      assert.ok(anchors.has(rule.alert.toLowerCase()), `docs/operate.md has no section ${rule.alert}`);
      assert.match(rule.annotations['description'] ?? '', /docs\/operate\.md#/);
    }
  });

  it('parses every query of the Grafana dashboard (promtool, as recording rules)', () => {
    const rules = dashboardExpressions().map((expr, i) => ({
      record: `lifeboat:dashboard_query_${i}`,
      // Grafana's variables, as the dashboard's "All" would expand them.
      expr: expr.replace(/\$(namespace|cluster)\b/g, '.*'),
    }));
    writeFileSync(join(dir, 'dashboard-queries.yaml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
    const run = promtool(['check', 'rules', 'dashboard-queries.yaml'], dir);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });
});

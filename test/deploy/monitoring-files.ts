// Reads deploy/monitoring for the tests: the alert rules of the PrometheusRule, and every query of
// the Grafana dashboard (its panels' targets and its template variables).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';

const DIR = join(PACKAGE_ROOT, 'deploy', 'monitoring');

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: AlertRule[];
}

interface PrometheusRule {
  apiVersion: string;
  kind: string;
  spec: { groups: RuleGroup[] };
}

export function prometheusRule(): PrometheusRule {
  return parse(readFileSync(join(DIR, 'prometheus-rule.yaml'), 'utf8')) as PrometheusRule;
}

/** The PrometheusRule's spec.groups: a plain Prometheus rule file's content. */
export function ruleGroups(): RuleGroup[] {
  return prometheusRule().spec.groups;
}

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

export interface Dashboard {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}

export function dashboard(): Dashboard {
  return JSON.parse(readFileSync(join(DIR, 'grafana-dashboard.json'), 'utf8')) as Dashboard;
}

export function dashboardPanels(): Panel[] {
  return dashboard().panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every PromQL query of the dashboard; label_values(metric{…}, label) yields its selector. */
export function dashboardExpressions(): string[] {
  const d = dashboard();
  const targets = dashboardPanels().flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const variables = d.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => (typeof v.query === 'string' ? v.query : (v.query?.query ?? '')))
    .map((q) => /^label_values\((.+),\s*\w+\)$/.exec(q)?.[1] ?? q);
  return [...targets, ...variables];
}

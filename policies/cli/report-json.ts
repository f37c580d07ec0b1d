// JSON, JUnit and SARIF output of `lifeboat check`, for scripts, CI test reports and code scanning.
import { XMLBuilder } from 'fast-xml-parser';
import type { Log, ReportingDescriptor, Result } from 'sarif';
import { CATALOG } from '../catalog.js';
import type { CheckReport } from './check-run.js';
import { summary } from './report-text.js';

export function formatJson(report: CheckReport): string {
  const denied = report.findings.filter((f) => f.severity === 'deny').length;
  const body = {
    summary: {
      files: report.files.length,
      resources: report.resources,
      errors: denied,
      warnings: report.findings.length - denied,
    },
    findings: report.findings,
  };
  return JSON.stringify(body, null, 2) + '\n';
}

/** One testcase per file; each deny is a failure in it, so CI test views list them per manifest file. */
export function formatJunit(report: CheckReport): string {
  const cases = report.files.map((file) => {
    const denies = report.findings.filter((f) => f.file === file && f.severity === 'deny');
    return {
      '@_name': file,
      '@_classname': 'lifeboat.check',
      failure: denies.map((f) => ({
        '@_message': `${f.policy} ${f.message}`,
        '@_type': f.policy,
        '#text': `${f.file}:${f.line}:${f.column}  ${f.policy}  ${f.message}`,
      })),
    };
  });
  const failures = cases.filter((c) => c.failure.length > 0).length;
  const doc = {
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    testsuites: {
      '@_name': 'lifeboat check',
      '@_tests': cases.length,
      '@_failures': failures,
      testsuite: {
        '@_name': 'lifeboat check',
        '@_tests': cases.length,
        '@_failures': failures,
        testcase: cases,
        'system-out': summary(report),
      },
    },
  };
  const builder = new XMLBuilder({
    ignoreAttributes: false,
    format: true,
    suppressEmptyNode: true,
    processEntities: true,
  });
  return builder.build(doc) as string;
}

function sarifRules(): ReportingDescriptor[] {
  return CATALOG.map((p) => ({
    id: p.id,
    name: p.name,
    shortDescription: { text: p.rule },
    fullDescription: { text: p.rationale },
    help: { text: `${p.rule} ${p.rationale} Run: lifeboat explain ${p.id}` },
    defaultConfiguration: { level: 'severity' in p && p.severity === 'warn' ? 'warning' : 'error' },
  }));
}

export function formatSarif(report: CheckReport, version: string): string {
  const rules = sarifRules();
  const results: Result[] = report.findings.map((f) => ({
    ruleId: f.policy,
    ruleIndex: rules.findIndex((r) => r.id === f.policy),
    level: f.severity === 'deny' ? 'error' : 'warning',
    message: { text: f.message },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: encodeURI(f.file.split('\\').join('/')) },
          region: { startLine: f.line, startColumn: f.column },
        },
      },
    ],
  }));
  const log: Log = {
    version: '2.1.0',
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    runs: [{ tool: { driver: { name: 'lifeboat', version, rules } }, results }],
  };
  return JSON.stringify(log, null, 2) + '\n';
}

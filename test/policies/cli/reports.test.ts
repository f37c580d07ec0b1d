// Every output format of `lifeboat check`, on one report with a deny, a warning and a clean file.
import assert from 'node:assert/strict';
import { XMLParser } from 'fast-xml-parser';
import type { Log } from 'sarif';
import type { CheckReport } from '../../../policies/cli/check-run.js';
import { formatJson, formatJunit, formatSarif } from '../../../policies/cli/report-json.js';
import { formatGithub, formatText, summary } from '../../../policies/cli/report-text.js';

const report: CheckReport = {
  files: ['manifests/restore.yaml', 'manifests/clean.yaml', 'manifests/backup, 50%.yaml'],
  resources: 4,
  findings: [
    {
      file: 'manifests/restore.yaml',
      line: 8,
      column: 3,
      policy: 'LB101',
      severity: 'deny',
      message: 'backup and source are both set; keep one',
      resource: 'Restore/r',
    },
    {
      file: 'manifests/backup, 50%.yaml',
      line: 5,
      column: 11,
      policy: 'LB603',
      severity: 'warn',
      message: 'Cluster shop is not among the given manifests:\nsecond line',
      resource: 'Backup/b',
    },
  ],
};

describe('check reports', () => {
  it('text: file:line:col  ID  message, then a summary', () => {
    assert.equal(
      formatText(report),
      'manifests/restore.yaml:8:3  LB101  backup and source are both set; keep one\n' +
        'manifests/backup, 50%.yaml:5:11  LB603  warning: Cluster shop is not among the given manifests:\nsecond line\n' +
        '1 error, 1 warning: 4 Lifeboat resources in 3 files.\n',
    );
    assert.equal(summary({ files: ['a'], resources: 1, findings: [] }), 'No problems: 1 Lifeboat resource in 1 file.');
  });

  it('json: summary counts and every finding', () => {
    const parsed = JSON.parse(formatJson(report)) as { summary: Record<string, number>; findings: unknown[] };
    assert.deepEqual(parsed.summary, { files: 3, resources: 4, errors: 1, warnings: 1 });
    assert.deepEqual(parsed.findings, report.findings);
  });

  it('junit: parses as XML, a testcase per file, a failure per deny', () => {
    const xml = formatJunit(report);
    const doc = new XMLParser({
      ignoreAttributes: false,
      isArray: (name) => name === 'testcase' || name === 'failure',
    }).parse(xml) as {
      testsuites: {
        testsuite: {
          '@_tests': string;
          '@_failures': string;
          testcase: { '@_name': string; failure?: { '@_type': string; '#text': string }[] }[];
        };
      };
    };
    const suite = doc.testsuites.testsuite;
    assert.equal(suite['@_tests'], '3');
    assert.equal(suite['@_failures'], '1');
    assert.deepEqual(
      suite.testcase.map((c) => c['@_name']),
      report.files,
    );
    assert.deepEqual(
      suite.testcase.map((c) => c.failure?.length ?? 0),
      [1, 0, 0],
      'warnings are not failures',
    );
    assert.equal(suite.testcase[0]?.failure?.[0]?.['@_type'], 'LB101');
    assert.match(suite.testcase[0]?.failure?.[0]?.['#text'] ?? '', /manifests\/restore.yaml:8:3 {2}LB101/);
  });

  it('junit escapes markup in messages', () => {
    const xml = formatJunit({
      files: ['a.yaml'],
      resources: 1,
      findings: [{ file: 'a.yaml', line: 1, column: 1, policy: 'LB004', severity: 'deny', message: 'x <y> & "z"' }],
    });
    assert.ok(!xml.includes('<y>'));
    const doc = new XMLParser({ ignoreAttributes: false }).parse(xml) as {
      testsuites: { testsuite: { testcase: { failure: { '@_message': string } } } };
    };
    assert.equal(doc.testsuites.testsuite.testcase.failure['@_message'], 'LB004 x <y> & "z"');
  });

  it('sarif 2.1.0: ruleId, level, message and a physical location with line and column', () => {
    const log = JSON.parse(formatSarif(report, '1.2.3')) as Log;
    assert.equal(log.version, '2.1.0');
    const run = log.runs[0]!;
    assert.equal(run.tool.driver.name, 'lifeboat');
    assert.equal(run.tool.driver.version, '1.2.3');
    assert.ok((run.tool.driver.rules ?? []).some((r) => r.id === 'LB101'));
    const results = run.results ?? [];
    assert.equal(results.length, 2);
    for (const [i, result] of results.entries()) {
      const finding = report.findings[i]!;
      assert.equal(result.ruleId, finding.policy);
      assert.equal(result.level, finding.severity === 'deny' ? 'error' : 'warning');
      assert.equal(result.message.text, finding.message);
      const region = result.locations?.[0]?.physicalLocation?.region;
      assert.equal(region?.startLine, finding.line);
      assert.equal(region?.startColumn, finding.column);
      assert.equal(run.tool.driver.rules?.[result.ruleIndex ?? -1]?.id, finding.policy);
    }
    assert.equal(results[1]?.locations?.[0]?.physicalLocation?.artifactLocation?.uri, 'manifests/backup,%2050%25.yaml');
  });

  it('github: workflow commands with escaped properties and data', () => {
    const lines = formatGithub(report).split('\n');
    assert.equal(
      lines[0],
      '::error file=manifests/restore.yaml,line=8,col=3,title=LB101::LB101 backup and source are both set; keep one',
    );
    assert.equal(
      lines[1],
      '::warning file=manifests/backup%2C 50%25.yaml,line=5,col=11,title=LB603::LB603 Cluster shop is not among the given manifests:%0Asecond line',
    );
  });
});

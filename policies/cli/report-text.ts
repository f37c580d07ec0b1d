// Text and GitHub Actions output of `lifeboat check`.
import type { CheckReport, LocatedFinding } from './check-run.js';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function summary(report: CheckReport): string {
  const denied = report.findings.filter((f) => f.severity === 'deny').length;
  const warned = report.findings.length - denied;
  const scope = `${plural(report.resources, 'Lifeboat resource')} in ${plural(report.files.length, 'file')}`;
  if (report.findings.length === 0) return `No problems: ${scope}.`;
  return `${plural(denied, 'error')}, ${plural(warned, 'warning')}: ${scope}.`;
}

function textLine(f: LocatedFinding): string {
  const message = f.severity === 'warn' ? `warning: ${f.message}` : f.message;
  return `${f.file}:${f.line}:${f.column}  ${f.policy}  ${message}`;
}

export function formatText(report: CheckReport): string {
  return [...report.findings.map(textLine), summary(report)].join('\n') + '\n';
}

/** GitHub's workflow commands need %, CR and LF escaped in data, and also : and , in properties. */
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export function formatGithub(report: CheckReport): string {
  const lines = report.findings.map((f) => {
    const level = f.severity === 'deny' ? 'error' : 'warning';
    const props = `file=${escapeProperty(f.file)},line=${f.line},col=${f.column},title=${escapeProperty(f.policy)}`;
    return `::${level} ${props}::${escapeData(`${f.policy} ${f.message}`)}`;
  });
  return [...lines, summary(report)].join('\n') + '\n';
}

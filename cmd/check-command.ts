// `lifeboat check`, `render` and `explain`: the offline fronts of the policy engine. Their modules
// (the catalog, the YAML parser, the report formats) load inside the actions, so that the other
// subcommands, the backup worker above all, start without them.
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CheckReport } from '../policies/cli/check-run.js';
import { DEFAULT_MAX_FILE_BYTES } from '../policies/cli/manifest-source.js';
import { DEFAULT_SETTINGS, type PolicySettings } from '../policies/policy-types.js';
import { durationOption, hostPatternsOption, UsageError } from './cli-options.js';

const FORMATS = ['text', 'json', 'junit', 'sarif', 'github'] as const;
type Format = (typeof FORMATS)[number];

interface CommonOptions {
  namespace: string;
  minScheduleInterval: number;
  maxFileSize: number;
  allowedEndpoints?: string[];
  allowedDbHosts?: string[];
}

function mibOption(text: string): number {
  const mib = Number(text);
  if (!Number.isFinite(mib) || mib <= 0) throw new InvalidArgumentError('write a size in MiB, e.g. 10.');
  return Math.round(mib * 1024 * 1024);
}

function threadsOption(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('write a whole number of threads, 1 or more.');
  return n;
}

function withCommon(command: Command): Command {
  return command
    .option('-n, --namespace <ns>', 'namespace of manifests that name none', DEFAULT_SETTINGS.defaultNamespace)
    .option(
      '--min-schedule-interval <duration>',
      'shortest allowed time between scheduled backups',
      durationOption,
      DEFAULT_SETTINGS.minScheduleIntervalSeconds,
    )
    .option('--max-file-size <MiB>', 'largest input file read', mibOption, DEFAULT_MAX_FILE_BYTES)
    .option(
      '--allowed-endpoints <patterns>',
      'comma-separated hosts object-store endpoints must match (host, *.domain, *), as the webhook is given',
      hostPatternsOption,
    )
    .option(
      '--allowed-db-hosts <patterns>',
      'comma-separated hosts database instances must match (host, *.domain, *), as the webhook is given',
      hostPatternsOption,
    );
}

function settingsFrom(opts: CommonOptions): PolicySettings {
  return {
    defaultNamespace: opts.namespace,
    minScheduleIntervalSeconds: opts.minScheduleInterval,
    ...(opts.allowedEndpoints ? { allowedEndpoints: opts.allowedEndpoints } : {}),
    ...(opts.allowedDbHosts ? { allowedDatabaseHosts: opts.allowedDbHosts } : {}),
  };
}

function requirePaths(paths: string[]): void {
  if (paths.length === 0) throw new UsageError('give the files or folders to read, or - for stdin');
}

async function formatReport(report: CheckReport, format: Format): Promise<string> {
  if (format === 'text' || format === 'github') {
    const { formatGithub, formatText } = await import('../policies/cli/report-text.js');
    return format === 'text' ? formatText(report) : formatGithub(report);
  }
  const { formatJson, formatJunit, formatSarif } = await import('../policies/cli/report-json.js');
  if (format === 'json') return formatJson(report);
  if (format === 'junit') return formatJunit(report);
  const { packageVersion } = await import('../policies/cli/package-paths.js');
  return formatSarif(report, packageVersion());
}

function emit(text: string, outputFile: string | undefined): void {
  if (outputFile === undefined) {
    process.stdout.write(text);
    return;
  }
  try {
    writeFileSync(outputFile, text);
  } catch (err) {
    throw new UsageError(`cannot write ${outputFile}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function checkCommand(root: Command): void {
  withCommon(root.command('check'))
    .description('check Lifeboat manifests against the policies, offline (files, folders, - for stdin)')
    .argument('[paths...]', 'files or folders (.yaml, .yml, .json, searched recursively), or - for stdin')
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('text'))
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option('--warnings-as-errors', 'exit 1 on warnings too', false)
    .option(
      '--threads <n>',
      'threads to check on; by default the idle cores (up to 4) for inputs of 32 MiB or more, else 1',
      threadsOption,
    )
    .action(
      async (
        paths: string[],
        opts: CommonOptions & { format: Format; output?: string; warningsAsErrors: boolean; threads?: number },
      ) => {
        requirePaths(paths);
        const { exitCode, runCheck } = await import('../policies/cli/check-run.js');
        const report = await runCheck(
          paths,
          settingsFrom(opts),
          { maxFileBytes: opts.maxFileSize, stdin: process.stdin },
          { threads: opts.threads ?? 'auto' },
        );
        emit(await formatReport(report, opts.format), opts.output);
        process.exitCode = exitCode(report, opts.warningsAsErrors);
      },
    );
}

export function renderCommand(root: Command): void {
  withCommon(root.command('render'))
    .description('print the manifests as the mutating webhook would store them')
    .argument('[paths...]', 'files or folders, or - for stdin')
    .action(async (paths: string[], opts: CommonOptions) => {
      requirePaths(paths);
      const { runRender } = await import('../policies/cli/render-run.js');
      const result = await runRender(paths, settingsFrom(opts), {
        maxFileBytes: opts.maxFileSize,
        stdin: process.stdin,
      });
      process.stdout.write(result.output);
      if (result.problems.length > 0) {
        process.stderr.write(result.problems.join('\n') + '\n');
        process.exitCode = 2;
      }
    });
}

export function explainCommand(root: Command): void {
  root
    .command('explain')
    .description('explain a policy: its rule, why it exists, and examples; without an ID, list them all')
    .argument('[policy]', 'policy ID (e.g. LB101) or name (e.g. recovery-one-origin)')
    .action(async (id: string | undefined) => {
      const { explainText, listText } = await import('../policies/catalog-doc.js');
      if (id === undefined) {
        process.stdout.write(listText());
        return;
      }
      const { findPolicy } = await import('../policies/catalog.js');
      const { readExample } = await import('../policies/cli/package-paths.js');
      const entry = findPolicy(id);
      if (!entry) throw new UsageError(`no policy ${JSON.stringify(id)}; run "lifeboat explain" to list them`);
      process.stdout.write(
        explainText(entry, { pass: readExample(entry.id, 'pass'), fail: readExample(entry.id, 'fail') }),
      );
    });
}

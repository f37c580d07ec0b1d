#!/usr/bin/env node
// The one Lifeboat binary. Subcommands are thin: they parse flags and call the fronts.
import { writeFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { durationOption } from './cli-options.js';
import { findPolicy } from '../policies/catalog.js';
import { explainText, listText } from '../policies/catalog-doc.js';
import { exitCode, runCheck, type CheckReport } from '../policies/cli/check-run.js';
import { DEFAULT_MAX_FILE_BYTES } from '../policies/cli/manifest-source.js';
import { packageVersion, readExample } from '../policies/cli/package-paths.js';
import { runRender } from '../policies/cli/render-run.js';
import { formatJson, formatJunit, formatSarif } from '../policies/cli/report-json.js';
import { formatGithub, formatText } from '../policies/cli/report-text.js';
import { DEFAULT_SETTINGS, type PolicySettings } from '../policies/policy-types.js';
import { webhookCommand } from './webhook-command.js';
import { runnerCommand } from './runner-command.js';
import { workerCommand } from './worker-command.js';

/** A mistake in how Lifeboat was called: exit 2 with a message, never a stack trace. */
class UsageError extends Error {}

/** Our own error classes carry a stable `reason` and a message that says what to fix. */
function isLifeboatError(err: unknown): err is Error & { reason: string } {
  return err instanceof Error && typeof (err as { reason?: unknown }).reason === 'string';
}

const FORMATS = ['text', 'json', 'junit', 'sarif', 'github'] as const;
type Format = (typeof FORMATS)[number];

interface CommonOptions {
  namespace: string;
  minScheduleInterval: number;
  maxFileSize: number;
}

function mibOption(text: string): number {
  const mib = Number(text);
  if (!Number.isFinite(mib) || mib <= 0) throw new InvalidArgumentError('write a size in MiB, e.g. 10.');
  return Math.round(mib * 1024 * 1024);
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
    .option('--max-file-size <MiB>', 'largest input file read', mibOption, DEFAULT_MAX_FILE_BYTES);
}

function settingsFrom(opts: CommonOptions): PolicySettings {
  return { defaultNamespace: opts.namespace, minScheduleIntervalSeconds: opts.minScheduleInterval };
}

function requirePaths(paths: string[]): void {
  if (paths.length === 0) throw new UsageError('give the files or folders to read, or - for stdin');
}

function formatReport(report: CheckReport, format: Format): string {
  switch (format) {
    case 'json':
      return formatJson(report);
    case 'junit':
      return formatJunit(report);
    case 'sarif':
      return formatSarif(report, packageVersion());
    case 'github':
      return formatGithub(report);
    case 'text':
      return formatText(report);
  }
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

function program(): Command {
  const root = new Command('lifeboat')
    .description('Backup and recovery for MySQL-family databases on Kubernetes')
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  withCommon(root.command('check'))
    .description('check Lifeboat manifests against the policies, offline (files, folders, - for stdin)')
    .argument('[paths...]', 'files or folders (.yaml, .yml, .json, searched recursively), or - for stdin')
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('text'))
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option('--warnings-as-errors', 'exit 1 on warnings too', false)
    .action(
      async (paths: string[], opts: CommonOptions & { format: Format; output?: string; warningsAsErrors: boolean }) => {
        requirePaths(paths);
        const report = await runCheck(paths, settingsFrom(opts), {
          maxFileBytes: opts.maxFileSize,
          stdin: process.stdin,
        });
        emit(formatReport(report, opts.format), opts.output);
        process.exitCode = exitCode(report, opts.warningsAsErrors);
      },
    );

  withCommon(root.command('render'))
    .description('print the manifests as the mutating webhook would store them')
    .argument('[paths...]', 'files or folders, or - for stdin')
    .action(async (paths: string[], opts: CommonOptions) => {
      requirePaths(paths);
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

  webhookCommand(root);
  runnerCommand(root);
  workerCommand(root);

  root
    .command('explain')
    .description('explain a policy: its rule, why it exists, and examples; without an ID, list them all')
    .argument('[policy]', 'policy ID (e.g. LB101) or name (e.g. recovery-one-origin)')
    .action((id: string | undefined) => {
      if (id === undefined) {
        process.stdout.write(listText());
        return;
      }
      const entry = findPolicy(id);
      if (!entry) throw new UsageError(`no policy ${JSON.stringify(id)}; run "lifeboat explain" to list them`);
      process.stdout.write(
        explainText(entry, { pass: readExample(entry.id, 'pass'), fail: readExample(entry.id, 'fail') }),
      );
    });
  return root;
}

async function main(): Promise<void> {
  // `lifeboat check … | head` closes the pipe early; that is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  try {
    await program().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; every other parse error is a usage error.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`lifeboat: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    if (isLifeboatError(err)) {
      // Wrong configuration, unreachable API server, unreadable certificate: the message says what to do.
      process.stderr.write(`lifeboat: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    // Not the user's mistake: say so briefly; the stack is there for a bug report when asked for.
    const detail = process.env['LIFEBOAT_DEBUG'] ? `\n${err instanceof Error ? err.stack : String(err)}` : '';
    process.stderr.write(
      `lifeboat: unexpected error: ${err instanceof Error ? err.message : String(err)}${detail}\n` +
        'This is a bug in Lifeboat; please report it with the input (LIFEBOAT_DEBUG=1 prints details).\n',
    );
    process.exitCode = 2;
  }
}

await main();

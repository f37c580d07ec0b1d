#!/usr/bin/env node
// The one Lifeboat binary. Subcommands are thin: they parse flags and call the fronts, and load
// what they need only when they run.
import { Command, CommanderError } from 'commander';
import { checkCommand, explainCommand, renderCommand } from './check-command.js';
import { UsageError } from './cli-options.js';
import { packageVersion } from '../policies/cli/package-paths.js';
import { webhookCommand } from './webhook-command.js';
import { runnerCommand } from './runner-command.js';
import { workerCommand } from './worker-command.js';
import { backupsCommand } from './backups-command.js';
import { restoreDatadirCommand } from './restore-datadir-command.js';
import { retentionCommand } from './retention-command.js';

/** Our own error classes carry a stable `reason` and a message that says what to fix. */
function isLifeboatError(err: unknown): err is Error & { reason: string } {
  return err instanceof Error && typeof (err as { reason?: unknown }).reason === 'string';
}

function program(): Command {
  const root = new Command('lifeboat')
    .description('Backup and recovery for MySQL-family databases on Kubernetes')
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  checkCommand(root);
  renderCommand(root);
  webhookCommand(root);
  runnerCommand(root);
  workerCommand(root);
  explainCommand(root);
  backupsCommand(root);
  restoreDatadirCommand(root);
  retentionCommand(root);
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

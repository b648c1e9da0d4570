#!/usr/bin/env node
/**
 * The `fedkit` command: one entry point, one subcommand per job. Usage errors exit with
 * code 2 and a message naming the bad flag or field; other failures exit with 1.
 */
import { FedkitError } from '@fedkit/protocol';
import { runClientCommand } from './commands/client.js';
import { runDemoCommand } from './commands/demo.js';
import { runPrivacyCommand } from './commands/privacy.js';
import { runServerCommand } from './commands/server.js';
import { runSimulateCommand } from './commands/simulate.js';
import { runTokenCommand } from './commands/token.js';

const COMMANDS: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  server: { summary: 'run an aggregation server from a config file', run: runServerCommand },
  client: { summary: 'run a Node client on one MNIST partition', run: runClientCommand },
  demo: { summary: 'run a local federation: server + 10 clients on MNIST (pnpm start)', run: runDemoCommand },
  privacy: { summary: 'plan a DP budget: epsilon for a run, or the noise for a target epsilon', run: runPrivacyCommand },
  simulate: { summary: 'simulate a federation of many virtual clients (FedAvg paper runs)', run: runSimulateCommand },
  token: { summary: 'issue an enrollment token for a federation (token create)', run: runTokenCommand },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`);
  return `fedkit: federated learning in TypeScript\n\nUsage: fedkit <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "fedkit <command> --help" for a command's options.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`fedkit: unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}\n`);
    return 2;
  }
  return command.run(rest);
}

let exitCode: number;
try {
  exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof FedkitError) {
    process.stderr.write(`fedkit: ${error.code}: ${error.message}\n`);
    exitCode = error.code === 'config-invalid' ? 2 : 1;
  } else {
    process.stderr.write(`fedkit: ${(error as Error).stack ?? String(error)}\n`);
    exitCode = 1;
  }
}
// Commands release what they opened; exiting here also ends any reconnect timer or worker
// a failed command could not clean up, so the CLI never hangs after its work is done.
process.exit(exitCode);

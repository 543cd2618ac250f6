import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { shellCommands } from './grpcurl-session.js';

/**
 * A shell block of a page that starts the server, as a reader types it: the
 * lines before `npm start` set things up (variables, files), `npm start`
 * with its variable prefix starts the server, and the commands after it are
 * the client's.
 */
export interface DocumentedStart {
  /** The variables the setup lines assign, after bash ran them, and those of the `npm start` prefix. */
  variables: Record<string, string>;
  /** The server's environment: the PROVENANCE_ variables, file paths resolved against the directory the lines ran in. */
  serverEnv: Record<string, string>;
  /** The commands after `npm start`, split into words. */
  clientCommands: string[][];
}

/** An `npm start` line, with the variables before it (on continued lines too). */
const START = /^((?:[A-Z][A-Z0-9_]*=\S+[ \t]+(?:\\\n[ \t]*)?)*)npm start\n/m;

/** Runs a block's setup lines with bash in directory (a scratch directory: they may write files there) and reads its `npm start` line. */
export function runDocumentedStart(block: string, directory: string): DocumentedStart {
  const start = START.exec(block);
  if (!start) throw new Error(`no npm start line in:\n${block}`);
  const setup = block.slice(0, start.index);
  // Names assigned at the start of a command or by export, not those a comment mentions.
  const assigned = [...new Set([...setup.replace(/\s#.*$/gm, '').matchAll(/(?:^|\s)([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!))];
  // set -a exports every assignment, so that the lines' variables (KEY=..., not only export ...) can be read back.
  const shell = spawnSync('bash', ['-c', `set -euao pipefail\n${setup}\nenv -0`], { cwd: directory, encoding: 'utf8', env: { PATH: process.env.PATH } });
  if (shell.status !== 0) throw new Error(`the setup lines failed (${shell.status}): ${shell.stderr}\n${setup}`);
  const environment = new Map(shell.stdout.split('\0').filter(Boolean).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const));
  const prefix = shellCommands('```sh\n' + start[0] + '```', 'sh')[0]!.slice(0, -2);
  const variables: Record<string, string> = {
    ...Object.fromEntries(assigned.map((name) => [name, environment.get(name)!])),
    ...Object.fromEntries(prefix.map((assignment) => [assignment.slice(0, assignment.indexOf('=')), assignment.slice(assignment.indexOf('=') + 1)])),
  };
  const serverEnv = Object.fromEntries(
    Object.entries(variables)
      .filter(([name]) => name.startsWith('PROVENANCE_'))
      .map(([name, value]) => [name, name.endsWith('_FILE') ? resolve(directory, value) : value]),
  );
  const clientCommands = shellCommands('```sh\n' + block.slice(start.index + start[0].length) + '```', 'sh');
  return { variables, serverEnv, clientCommands };
}

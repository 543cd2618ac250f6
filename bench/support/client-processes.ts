import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ownCpuSecondsSince } from './process-stats.js';

/**
 * Load generators, subscribers and probes in processes of their own, so that
 * neither side of a comparison is bound by one shared client process and a
 * probe is never delayed by the bench's own work. A module that defines
 * roles calls serveClientRoles(import.meta.url, roles) at its top level; the
 * bench forks it with ClientProcesses.start. Every answer carries the CPU
 * time the child spent on that request, printed beside the figures.
 */

const ROLE_FLAG = '--bench-client-role';

/** The operations of a role, set up once per process from the setup message. */
export type RoleOperations = Record<string, (body: never) => unknown>;
export type Role = (setup: never) => Promise<RoleOperations>;

interface Request {
  id: number;
  operation: string;
  body: unknown;
}
type Reply = { id: number; result: unknown; cpuSeconds: number } | { id: number; error: string };

/** In the child: when this module was forked for one of its roles, sets it up and answers requests until the bench disconnects. */
export function serveClientRoles(moduleUrl: string, roles: Record<string, Role>): void {
  const roleIndex = process.argv.indexOf(ROLE_FLAG);
  if (roleIndex < 0 || resolve(process.argv[1] ?? '') !== fileURLToPath(moduleUrl)) return;
  const role = roles[process.argv[roleIndex + 1] ?? ''];
  if (!role) throw new Error(`unknown bench client role ${process.argv[roleIndex + 1]}`);
  process.once('disconnect', () => process.exit(0));
  void (async () => {
    const [setup] = (await once(process, 'message')) as [unknown];
    const operations = await role(setup as never);
    process.on('message', (request: Request) => {
      const cpuStart = process.cpuUsage();
      Promise.resolve()
        .then(() => {
          const operation = operations[request.operation];
          if (!operation) throw new Error(`the role has no operation ${request.operation}`);
          return operation(request.body as never);
        })
        .then(
          (result) => process.send!({ id: request.id, result, cpuSeconds: ownCpuSecondsSince(cpuStart) } satisfies Reply),
          (error: unknown) => process.send!({ id: request.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies Reply),
        );
    });
    process.send!({ id: 0, result: 'ready', cpuSeconds: 0 } satisfies Reply);
  })().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

/** What one child answered, with the CPU seconds it spent on the request. */
export interface ChildAnswer<T> {
  result: T;
  cpuSeconds: number;
}

/** A group of forked client processes of one role. */
export class ClientProcesses {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (reply: ChildAnswer<unknown>) => void; reject: (error: Error) => void }>();

  private constructor(
    private readonly children: ChildProcess[],
    private readonly killOnExit: () => void,
  ) {
    for (const child of children) {
      child.on('message', (reply: Reply) => {
        const waiter = this.pending.get(reply.id);
        if (!waiter) return;
        this.pending.delete(reply.id);
        if ('error' in reply) waiter.reject(new Error(`bench client process: ${reply.error}`));
        else waiter.resolve(reply);
      });
      const failAll = (error: Error) => {
        for (const waiter of this.pending.values()) waiter.reject(error);
        this.pending.clear();
      };
      child.once('exit', (code) => failAll(new Error(`a bench client process exited (code ${code}) with requests pending`)));
      child.on('error', failAll);
    }
  }

  /** Forks one process per setup, running role of the module at moduleUrl, and resolves once every one is set up. */
  static async start(moduleUrl: string, role: string, setups: readonly unknown[]): Promise<ClientProcesses> {
    const children = setups.map(() =>
      fork(fileURLToPath(moduleUrl), [ROLE_FLAG, role], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
    const killOnExit = () => children.forEach((child) => child.kill('SIGKILL'));
    process.on('exit', killOnExit);
    const group = new ClientProcesses(children, killOnExit);
    const ready = children.map(
      (child) =>
        new Promise<void>((done, fail) => {
          const onExit = (code: number | null) => fail(new Error(`a bench client process (${role}) exited with code ${code} before it was set up`));
          child.once('exit', onExit);
          child.once('message', () => {
            child.off('exit', onExit);
            done();
          });
        }),
    );
    children.forEach((child, i) => child.send(setups[i] as object));
    try {
      await Promise.all(ready);
    } catch (error) {
      await group.close();
      throw error;
    }
    return group;
  }

  get size(): number {
    return this.children.length;
  }

  /** Sends the operation to every process (body(i) for the i-th) and resolves with every answer, in order. */
  all<T>(operation: string, body: (index: number) => unknown = () => undefined): Promise<Array<ChildAnswer<T>>> {
    return Promise.all(this.children.map((child, i) => this.ask<T>(child, operation, body(i))));
  }

  async close(): Promise<void> {
    process.off('exit', this.killOnExit);
    await Promise.all(
      this.children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.disconnect();
        await exited;
      }),
    );
  }

  private ask<T>(child: ChildProcess, operation: string, body: unknown): Promise<ChildAnswer<T>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (reply: ChildAnswer<unknown>) => void, reject });
      child.send({ id, operation, body } satisfies Request);
    });
  }
}

/** The sum of the CPU seconds of a set of answers. */
export function totalCpuSeconds(answers: ReadonlyArray<ChildAnswer<unknown>>): number {
  return answers.reduce((sum, answer) => sum + answer.cpuSeconds, 0);
}

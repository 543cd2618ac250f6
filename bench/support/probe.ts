import { setTimeout as sleep } from 'node:timers/promises';
import { ProvenanceClient } from '@provenance/client';
import { ClientProcesses, serveClientRoles } from './client-processes.js';
import { elapsedMs, percentile } from './stats.js';

/**
 * The probe of issue #18: GetJob calls, one after the other, from a process
 * of their own, while a scenario does something heavy (a first lineage
 * query, a graph load, a 70,000-node lineage). The longest a probe call took
 * is the longest any other call waited meanwhile. A call still running when
 * the probe is stopped is waited for and counted. The calls are paced, one
 * every PROBE_INTERVAL_MS at most, so that the probe barely loads the server
 * it watches; a wait can then be missed by at most that interval.
 */

export const PROBE_INTERVAL_MS = 5;

/** A GetJob answers in about a millisecond; a call that waits longer than this waited for something else the server was doing. */
export const PROBE_WAIT_LIMIT_MS = 50;

export interface ProbeResult {
  calls: number;
  longestMs: number;
  p50Ms: number;
}

const PROBE_ROLE = 'get-job-probe';

export class GetJobProbe {
  private constructor(private readonly processes: ClientProcesses) {}

  /** Starts the probe's process (before the server, so that probing can begin the moment it serves). */
  static async start(): Promise<GetJobProbe> {
    return new GetJobProbe(await ClientProcesses.start(import.meta.url, PROBE_ROLE, [{}]));
  }

  /**
   * Begins calling GetJob of jobId on the server at address, until measured's promise settles; answers what the calls took.
   * Cold (a server that has just started): the first call also opens the probe's connection, and counts, since the server
   * may be busy with more than the handshake. Otherwise the connection is opened before the probe begins, so that a few
   * milliseconds of handshake are not taken for a wait.
   */
  async during<T>(address: string, jobId: string, measured: () => Promise<T>, { cold = false } = {}): Promise<{ value: T; probe: ProbeResult }> {
    await this.processes.all('start', () => ({ address, jobId, connectFirst: !cold }) satisfies ProbeStart);
    try {
      const value = await measured();
      return { value, probe: await this.stop() };
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  close(): Promise<void> {
    return this.processes.close();
  }

  private async stop(): Promise<ProbeResult> {
    const [answer] = await this.processes.all<ProbeResult>('stop');
    return answer!.result;
  }
}

interface ProbeStart {
  address: string;
  jobId: string;
  connectFirst: boolean;
}

serveClientRoles(import.meta.url, {
  [PROBE_ROLE]: async () => {
    let running: { stop: () => Promise<ProbeResult> } | undefined;
    /** One client per server, kept between probes of the same server, so that only the first probe of a server connects. */
    let client: { address: string; client: ProvenanceClient } | undefined;
    return {
      async start({ address, jobId, connectFirst }: ProbeStart) {
        if (client?.address !== address) {
          client?.client.close();
          client = { address, client: new ProvenanceClient({ address, timeoutMs: 120_000 }) };
        }
        const { client: probeClient } = client;
        if (connectFirst) await new Promise<void>((resolve, reject) => probeClient.raw.waitForReady(Date.now() + 60_000, (error) => (error ? reject(error) : resolve())));
        const timings: number[] = [];
        let stopping = false;
        const loop = (async () => {
          while (!stopping) {
            const start = process.hrtime.bigint();
            await probeClient.getJob({ jobId });
            const took = elapsedMs(start);
            timings.push(took);
            if (took < PROBE_INTERVAL_MS && !stopping) await sleep(PROBE_INTERVAL_MS - took);
          }
        })();
        // A failed call ends the loop; stop() reports it.
        loop.catch(() => undefined);
        running = {
          async stop() {
            stopping = true;
            await loop;
            return { calls: timings.length, longestMs: timings.reduce((a, b) => Math.max(a, b), 0), p50Ms: percentile(timings, 0.5) };
          },
        };
      },
      stop() {
        if (!running) throw new Error('the probe was not started');
        const result = running.stop();
        running = undefined;
        return result;
      },
    };
  },
});

/**
 * The frame-fuzzing run both fuzz specs share (specs/security.fuzz.spec.ts, a short run in
 * `npm test`; specs/security.fuzz.slow.spec.ts, >= 100,000 frames): a provider PROCESS fuzzed by
 * `fuzzProvider` while a well-behaved client PROCESS runs tasks against it. Passes when the
 * provider never died (no `fatal` line, still alive), every legitimate task completed with its
 * own result, and the provider still answers a fresh connection.
 */
import { expect } from 'vitest';
import { fuzzProvider, type FuzzStats } from './fuzz.js';
import { clientView, listeningOf, settledOf, startClientProcess, startProviderProcess, statsOf, stopTracked } from './processes.js';
import { payloadOf, rawSession } from './rawSession.js';
import { freeDiscoveryPort } from './udpPort.js';

export interface FuzzRunResult extends FuzzStats {
  /** Frames the provider took in (a connection closed for a bad frame loses what followed it). */
  readonly providerFramesIn: number;
  readonly providerRejected: Record<string, number>;
}

export async function fuzzRun(options: { frames: number; lanes: number; tasks: number; seed: number }): Promise<FuzzRunResult> {
  const discoveryPort = await freeDiscoveryPort();
  const provider = startProviderProcess({ name: 'Fuzzed', discoveryPort });
  const client = startClientProcess('legit client', discoveryPort, ['--heartbeat-ms', '10000']);
  try {
    const listening = await listeningOf(provider);
    await clientView(client, (services) => services.some((s) => s.serviceId === listening.serviceIds.Work), 'the provider', 20_000);
    const taskIds = Array.from({ length: options.tasks }, (_, i) => `legit-${i}`);
    const fuzzing = fuzzProvider(listening.endpoint, { frames: options.frames, lanes: options.lanes, seed: options.seed });
    // The legitimate tasks run while the fuzz does, spread over it.
    for (const [i, taskId] of taskIds.entries()) {
      client.send({ cmd: 'assign', taskId, service: 'Work', operation: 'work', params: { steps: 3, stepMs: 10, tag: taskId } });
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const stats = await fuzzing;
    for (const taskId of taskIds) {
      const settled = await settledOf(client, taskId, 60_000);
      expect(settled, `${taskId} (fuzz seed ${options.seed})`).toMatchObject({ ok: true, result: { steps: 3, tag: taskId, taskId } });
    }
    expect(provider.of('fatal'), `fuzz seed ${options.seed}`).toEqual([]);
    expect(provider.alive, `fuzz seed ${options.seed}`).toBe(true);
    const probe = await rawSession(listening.endpoint);
    probe.send({ type: 'GetStatus', messageId: 'probe', timestamp: new Date().toISOString(), payload: { taskId: 'none', originalClientId: 'probe' } });
    expect(payloadOf(await probe.expectFrame((f) => payloadOf(f).relatesTo === 'probe', 'the probe answer')).code).toBe('TASK_NOT_FOUND');
    probe.close();
    expect(stats.sent).toBeGreaterThanOrEqual(options.frames);
    const providerStats = await statsOf(provider);
    // Every frame reached the provider, but the 5% of invalid UTF-8 text frames ws refuses whole (1007).
    expect(providerStats.ws.messagesIn as number).toBeGreaterThanOrEqual(0.9 * options.frames);
    return { ...stats, providerFramesIn: providerStats.ws.messagesIn as number, providerRejected: providerStats.ws.rejected as Record<string, number> };
  } finally {
    await stopTracked();
  }
}

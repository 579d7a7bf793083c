/**
 * The whole-network property, shared by the fast and the slow spec: `runs` random networks
 * (specs/support/networkScenario.ts) through `switchboard simulate`'s engine, each checked by
 * every invariant. The fast-check seed is the tier's (specs/support/propertySeed.ts: fixed in
 * `npm test`, new per slow-tier run; PROPERTY_SEED=<n> replays one). A failure names the
 * network's scenario and seed (replay it with `switchboard simulate <file> --seed N`), and
 * fast-check prints its own seed and path.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { check, type Verdict } from '../../runtime/simulate/checker.js';
import { planRun } from '../../runtime/simulate/plan.js';
import { parseScenario } from '../../runtime/simulate/scenario.js';
import { ofType } from '../../runtime/simulate/history.js';
import { runVirtual } from '../../runtime/simulate/virtual.js';
import { networkScenarioArb } from './networkScenario.js';

export interface NetworkRunTotals {
  networks: number;
  virtualMs: number;
  cpuMs: number;
  wallMs: number;
  /** AssignTasks delivered beyond one per task: the duplicates TASK-4 must not run. */
  duplicateAssigns: number;
  faults: number;
  tasks: number;
  /** Networks by discovery: every provider signed, none, or some (SEC-8). */
  discovery: { signed: number; mixed: number; unsigned: number };
  /** Events (EVT-n): published, handed to applications (at-least-once among them), dropped by overflow, provider subscriptions ended by reason. */
  events: { published: number; delivered: number; atLeastOnce: number; dropped: number; ended: Record<string, number> };
  /** Task files (FILE-n): uploads by outcome (done, have: nothing moved, or the failure code), and files handed to operations. */
  files: { uploads: Record<string, number>; fetches: Record<string, number>; used: number };
}

export async function checkRandomNetworks(runs: number): Promise<NetworkRunTotals> {
  const totals: NetworkRunTotals = {
    networks: 0,
    virtualMs: 0,
    cpuMs: 0,
    wallMs: 0,
    duplicateAssigns: 0,
    faults: 0,
    tasks: 0,
    discovery: { signed: 0, mixed: 0, unsigned: 0 },
    events: { published: 0, delivered: 0, atLeastOnce: 0, dropped: 0, ended: {} },
    files: { uploads: {}, fetches: {}, used: 0 },
  };
  await fc.assert(
    fc.asyncProperty(networkScenarioArb, async (input) => {
      const scenario = parseScenario(input);
      const plan = planRun(scenario, { seed: scenario.seed ?? 1 });
      const record = await runVirtual(plan);
      const verdict: Verdict = check(plan, record.history);
      totals.networks++;
      totals.virtualMs += plan.endMs;
      totals.cpuMs += record.cpuMs;
      totals.wallMs += record.realMs;
      totals.faults += plan.faults.length;
      totals.tasks += verdict.tasks.submitted;
      totals.duplicateAssigns += Math.max(0, (record.delivered.AssignTask ?? 0) - verdict.tasks.submitted);
      const signed = scenario.providers.map((provider) => provider.options?.signed !== false);
      totals.discovery[signed.every(Boolean) ? 'signed' : signed.some(Boolean) ? 'mixed' : 'unsigned']++;
      totals.events.published += verdict.events.published;
      totals.events.delivered += verdict.events.delivered;
      totals.events.dropped += verdict.events.dropped;
      for (const [reason, count] of Object.entries(verdict.events.ended)) totals.events.ended[reason] = (totals.events.ended[reason] ?? 0) + count;
      for (const [outcome, count] of Object.entries(verdict.files.uploads)) totals.files.uploads[outcome] = (totals.files.uploads[outcome] ?? 0) + count;
      totals.files.used += verdict.files.used;
      for (const [outcome, count] of Object.entries(verdict.files.fetches)) totals.files.fetches[outcome] = (totals.files.fetches[outcome] ?? 0) + count;
      const atLeastOnce = new Set(plan.subscriptions.filter((s) => s.spec.delivery === 'at-least-once').map((s) => `${s.client}\u0000${s.subscriptionId}`));
      totals.events.atLeastOnce += ofType(record.history, 'event').filter((event) => atLeastOnce.has(`${event.participant}\u0000${event.subscriptionId}`)).length;
      expect(verdict.violations, `seed ${plan.seed} of ${JSON.stringify(input)}`).toEqual([]);
    }),
    { numRuns: runs },
  );
  return totals;
}

/** The simulator's throughput over a run of networks, as one line. */
export function throughput(totals: NetworkRunTotals): string {
  const perCpu = Math.round(totals.virtualMs / totals.cpuMs);
  const perWall = Math.round(totals.virtualMs / totals.wallMs);
  const perMinute = Math.round((totals.networks * 60_000) / totals.cpuMs);
  const { signed, mixed, unsigned } = totals.discovery;
  return (
    `${totals.networks} networks (discovery signed ${signed}, mixed ${mixed}, unsigned ${unsigned}), ${totals.tasks} tasks, ` +
    `${totals.faults} faults, ${totals.duplicateAssigns} duplicate AssignTasks; ` +
    `events: ${totals.events.published} published, ${totals.events.delivered} delivered (${totals.events.atLeastOnce} at-least-once), ${totals.events.dropped} dropped by overflow, subscriptions ended ${JSON.stringify(totals.events.ended)}; ` +
    `file uploads ${JSON.stringify(totals.files.uploads)}, ${totals.files.used} files handed to operations, result files fetched ${JSON.stringify(totals.files.fetches)}: ` +
    `${Math.round(totals.virtualMs / 1000)} virtual s in ${(totals.cpuMs / 1000).toFixed(1)} CPU s (${Math.round(totals.wallMs / 1000)} wall s): ` +
    `${perCpu} virtual s per CPU s (${perWall} per wall s), ${perMinute} networks per CPU minute`
  );
}

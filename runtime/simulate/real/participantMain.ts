/**
 * One participant of a `--real` run, in its own process and network namespace (started by
 * ./run.ts with `ip netns exec`). It re-derives the run's plan from the scenario, the seed and
 * the fault schedule it is given (so it submits exactly the virtual run's tasks at the same run
 * times), runs the provider or client with real sockets and real timers, and writes every
 * observation as one JSON line on stdout. It exits by itself at the end of the run.
 *
 * argv[2]: a JSON ParticipantProcessConfig.
 */
import { realHost } from '../../network.js';
import { parseFaults, parseScenario } from '../scenario.js';
import type { Observation } from '../history.js';
import { planRun } from '../plan.js';
import { PROVIDER_PORT, startClient, startProvider, type ParticipantEnv } from '../participants.js';
import { loadServices } from '../../cli/serviceModule.js';
import { probeTask } from '../virtual.js';

export interface ParticipantProcessConfig {
  readonly scenario: unknown;
  readonly scenarioDir: string;
  readonly seed: number;
  readonly durationMs?: number;
  readonly faults?: unknown;
  readonly participant: string;
  readonly incarnation: number;
  /** Date.now() at run time 0. */
  readonly epochMs: number;
  readonly address: string;
  readonly broadcast: string;
  readonly discoveryPort: number;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ParticipantProcessConfig;
  const scenario = parseScenario(config.scenario);
  const faults = config.faults === undefined ? undefined : parseFaults(config.faults);
  const plan = planRun(scenario, {
    seed: config.seed,
    ...(config.durationMs === undefined ? {} : { durationMs: config.durationMs }),
    ...(faults === undefined ? {} : { faults }),
  });
  const planned = plan.participants.find((participant) => participant.name === config.participant);
  if (planned === undefined) throw new Error(`no participant ${config.participant}`);
  const now = () => Date.now() - config.epochMs;
  const record = (observation: Observation) => process.stdout.write(`${JSON.stringify(observation)}\n`);
  const discovery = { port: config.discoveryPort, broadcastAddresses: [config.broadcast] };
  const host =
    planned.kind === 'provider'
      ? realHost({ discovery, server: { port: PROVIDER_PORT, host: '0.0.0.0', advertisedHost: config.address } })
      : realHost({ discovery });
  const env: ParticipantEnv = { host, clock: undefined, now, record, seed: config.seed, detail: true };
  const at = (atMs: number, fn: () => void) => setTimeout(fn, Math.max(0, atMs - now()));
  // Everyone starts at run time 0 (the controller leaves time for node to load the package).
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, -now())));
  if (planned.kind === 'provider') {
    const modules = { [planned.spec.name]: await loadServices(planned.spec.modules ?? [], config.scenarioDir) };
    const provider = startProvider(planned, config.incarnation, env, modules, plan);
    const started = now();
    for (const publication of plan.publications) {
      if (publication.provider === planned.name && publication.atMs >= started) at(publication.atMs, () => provider.publish(publication));
    }
  } else {
    const client = startClient(planned, config.incarnation, env);
    const started = now();
    for (const task of plan.tasks) {
      if (task.client !== planned.name || task.atMs < started) continue;
      at(task.atMs, () => client.submit(task));
      if (task.cancelAtMs !== undefined) at(task.cancelAtMs, () => client.cancel(task.taskId));
    }
    for (const subscription of plan.subscriptions) {
      if (subscription.client !== planned.name || (subscription.untilMs ?? Number.POSITIVE_INFINITY) <= started) continue;
      at(Math.max(subscription.atMs, started), () => client.subscribe(subscription));
      if (subscription.untilMs !== undefined) at(subscription.untilMs, () => client.unsubscribe(subscription.subscriptionId));
    }
    const probe = probeTask(plan, planned.name);
    if (probe !== undefined && plan.probeAtMs >= started) at(plan.probeAtMs, () => client.submit(probe, true));
  }
  // Bounded: the process ends with the run, whatever happens.
  at(plan.endMs + 200, () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(`participant failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});

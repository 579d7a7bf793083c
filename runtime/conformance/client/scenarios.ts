/**
 * The client suite's scenarios. Each one starts a fresh scripted provider and a fresh client
 * process (the env contract), drives the provider through a short script with bounded waits,
 * and returns what it saw (a ScenarioRecord). The client is killed, by its pid, at the end of
 * every scenario; the log is frozen before the kill, so nothing the client does while dying counts.
 *
 * | scenario  | provider behaviour                                                                   |
 * |-----------|--------------------------------------------------------------------------------------|
 * | normal    | answers (Ack, progress, TaskResult), then watches for `quietMs`                      |
 * | withhold  | answers nothing for `withholdMs` after the first AssignTask                          |
 * | reconnect | Ack, then terminates the socket; refuses reconnects (503) for a while, then accepts  |
 * | ping      | Ack, never answers a ping                                                            |
 * | cancel    | Ack; the client is told SWITCHBOARD_CANCEL_AFTER_MS                                  |
 * | liberal   | advertises capabilities keyed by operation and an endpoint without scheme            |
 * | unknown   | an unknown message type, an Error about nothing, Ack and update with unknown fields  |
 * | seedAck   | only the seed's Ack (acknowledgmentId alone), then the result after 2 Ack timeouts   |
 * | noAck     | no Ack: a TaskStatusUpdate at once (as a seed provider), the result 2 timeouts later |
 */
import { Answers, type AnswerPolicy } from './answers.js';
import { ClientProcess } from './clientProcess.js';
import { isFrameOfType, openOf, type FrameEvent } from './observe.js';
import { LOOPBACK_BROADCAST, type ClientSuiteTimings, type ResolvedClientSuiteOptions } from './options.js';
import { Recorder, type ScenarioEvent } from './recorder.js';
import { ScriptedProvider } from './scriptedProvider.js';
import { backoffCeilingMs } from '../../../machines/backoff.js';

export const scenarioKinds = ['normal', 'withhold', 'reconnect', 'ping', 'cancel', 'liberal', 'unknown', 'seedAck', 'noAck'] as const;
export type ScenarioKind = (typeof scenarioKinds)[number];

export interface ScenarioRecord {
  readonly kind: ScenarioKind;
  readonly events: readonly ScenarioEvent[];
  /** The advertised endpoint and its path. */
  readonly endpoint: string;
  readonly path: string;
  /** Events not kept (the log is bounded). */
  readonly droppedEvents: number;
  /** The end of the client's output, for evidence. */
  readonly clientTail: string;
  readonly durationMs: number;
  /** The scenario could not run (e.g. the discovery port could not be bound). */
  readonly error?: string;
}

interface ScenarioContext {
  readonly recorder: Recorder;
  readonly provider: ScriptedProvider;
  readonly answers: Answers;
  readonly timings: ClientSuiteTimings;
  /** Resolves with the first matching event, or undefined at the deadline or when the client exits. */
  wait<E extends ScenarioEvent>(test: (event: ScenarioEvent) => event is E, timeoutMs: number): Promise<E | undefined>;
  /** Waits `ms`, or less if the client exits. */
  pause(ms: number): Promise<void>;
}

interface Script {
  readonly policy: AnswerPolicy;
  readonly env?: (timings: ClientSuiteTimings) => Record<string, string>;
  readonly setup?: (context: ScenarioContext) => void;
  run(context: ScenarioContext): Promise<void>;
}

const CEILINGS = (timings: ClientSuiteTimings, attempts: number): number => {
  const options = { delayMsBase: timings.backoffBaseMs, delayMsMax: timings.backoffCapMs, attemptsMax: attempts };
  let sum = 0;
  for (let n = 0; n < attempts; n++) sum += backoffCeilingMs(n, options);
  return sum;
};

/** The reconnect phase: long enough for `refusedAttempts + 1` attempts of a conforming client, and at least 1 s. */
export const reconnectPhaseMs = (timings: ClientSuiteTimings): number =>
  Math.max(CEILINGS(timings, timings.refusedAttempts + 1), 1_000) + timings.slackMs;

/** How long the withhold scenario withholds: long enough to see a client re-send past its limit. */
export const withholdWindowMs = (timings: ClientSuiteTimings): number =>
  Math.max(timings.withholdMs, (timings.assignSendsMax + 1) * timings.ackTimeoutMs + timings.slackMs);

/** How long the seedAck and noAck scenarios keep the task open after their first answer. */
export const answeredHoldMs = (timings: ClientSuiteTimings): number => 2 * timings.ackTimeoutMs + timings.slackMs;

/** Time after a reconnect for the client's GetResult or GetStatus (CONN-6). */
export const queryWindowMs = (timings: ClientSuiteTimings): number => Math.max(2_000, timings.ackTimeoutMs) + timings.slackMs;

/** Time for a new attempt after the client ended a dead connection (CONN-3, CONN-4). */
export const reconnectAfterCloseMs = (timings: ClientSuiteTimings): number =>
  Math.min(timings.backoffCapMs, 2 * timings.backoffBaseMs) + timings.slackMs;

const isAssign = isFrameOfType('AssignTask');
const mark = (label: string) => (event: ScenarioEvent): event is Extract<ScenarioEvent, { kind: 'mark' }> => event.kind === 'mark' && event.label === label;

async function awaitAssign(context: ScenarioContext): Promise<FrameEvent | undefined> {
  return context.wait(isAssign, context.timings.startTimeoutMs - context.recorder.now());
}

const scripts: Record<ScenarioKind, Script> = {
  normal: {
    policy: 'complete',
    async run(context) {
      if ((await awaitAssign(context)) === undefined) return;
      if ((await context.wait(mark('result-sent'), 3_000)) === undefined) return;
      await context.pause(context.timings.quietMs);
    },
  },
  liberal: {
    policy: 'complete',
    async run(context) {
      if ((await awaitAssign(context)) === undefined) return;
      await context.wait(mark('result-sent'), 3_000);
      await context.pause(200);
    },
  },
  withhold: {
    policy: 'withhold',
    async run(context) {
      if ((await awaitAssign(context)) === undefined) return;
      await context.pause(withholdWindowMs(context.timings));
    },
  },
  reconnect: {
    policy: 'hold',
    async run(context) {
      const { recorder, provider, answers, timings } = context;
      const assign = await awaitAssign(context);
      if (assign === undefined) return;
      await context.pause(200);
      let refused = 0;
      let droppedAt = 0;
      provider.admit = () => {
        if (refused < timings.refusedAttempts || recorder.now() - droppedAt < 1_000) {
          refused++;
          return false;
        }
        return true;
      };
      answers.completeOnQuery = true;
      recorder.mark('dropped');
      droppedAt = recorder.now();
      provider.terminate(assign.connId);
      const accepted = await context.wait(
        (event): event is Extract<ScenarioEvent, { kind: 'open' }> => event.kind === 'open' && event.at > droppedAt,
        reconnectPhaseMs(timings),
      );
      if (accepted === undefined) return;
      recorder.mark('reconnected', String(accepted.connId));
      const query = await context.wait(
        (event): event is FrameEvent => isFrameOfType('GetResult', 'GetStatus')(event) && event.connId === accepted.connId,
        queryWindowMs(timings),
      );
      if (query !== undefined) await context.pause(300);
    },
  },
  ping: {
    policy: 'hold',
    setup(context) {
      context.provider.answerPings = false;
    },
    async run(context) {
      const { recorder, timings } = context;
      const assign = await awaitAssign(context);
      if (assign === undefined) return;
      const openedAt = openOf(recorder.events, assign.connId)?.at ?? assign.at;
      const ping = await context.wait(
        (event): event is Extract<ScenarioEvent, { kind: 'ping' }> => event.kind === 'ping' && event.connId === assign.connId,
        openedAt + timings.pingIntervalMs + timings.slackMs - recorder.now(),
      );
      if (ping === undefined) return;
      const closed = await context.wait(
        (event): event is Extract<ScenarioEvent, { kind: 'close' }> => event.kind === 'close' && event.connId === assign.connId,
        ping.at + timings.pongTimeoutMs + timings.slackMs - recorder.now(),
      );
      if (closed === undefined) return;
      await context.wait(
        (event): event is Extract<ScenarioEvent, { kind: 'upgrade' }> => event.kind === 'upgrade' && event.at > closed.at,
        reconnectAfterCloseMs(timings),
      );
      await context.pause(100);
    },
  },
  cancel: {
    policy: 'hold',
    env: (timings) => ({ SWITCHBOARD_CANCEL_AFTER_MS: String(timings.cancelAfterMs) }),
    async run(context) {
      const { timings } = context;
      if ((await awaitAssign(context)) === undefined) return;
      const cancel = await context.wait(isFrameOfType('CancelTask'), timings.cancelAfterMs + 2 * timings.slackMs);
      if (cancel !== undefined) await context.pause(200);
    },
  },
  unknown: {
    policy: 'unknown',
    async run(context) {
      const { timings, answers } = context;
      const assign = await awaitAssign(context);
      if (assign === undefined) return;
      await context.pause(2 * timings.ackTimeoutMs + timings.slackMs);
      const taskId = (assign.raw as { payload?: { taskId?: unknown } }).payload?.taskId;
      if (typeof taskId === 'string') answers.complete(assign.connId, taskId);
      await context.pause(300);
    },
  },
  seedAck: answeredThenResult('seedAck'),
  noAck: answeredThenResult('noAck'),
};

/** The seedAck and noAck scripts: the policy's first answer, silence for two Ack timeouts, then the result. */
function answeredThenResult(policy: 'seedAck' | 'noAck'): Script {
  return {
    policy,
    async run(context) {
      const assign = await awaitAssign(context);
      if (assign === undefined) return;
      await context.pause(answeredHoldMs(context.timings));
      const taskId = (assign.raw as { payload?: { taskId?: unknown } }).payload?.taskId;
      if (typeof taskId === 'string') context.answers.complete(assign.connId, taskId, undefined, true);
      await context.pause(300);
    },
  };
}

/** An upper bound of a scenario's duration, for the checks' timeouts. */
export function scenarioBoundMs(kind: ScenarioKind, timings: ClientSuiteTimings): number {
  const base = timings.startTimeoutMs + 5_000; // start, discovery, assignment; then stopping and killing
  switch (kind) {
    case 'normal':
      return base + 3_000 + timings.quietMs;
    case 'liberal':
      return base + 3_200;
    case 'withhold':
      return base + withholdWindowMs(timings);
    case 'reconnect':
      return base + 200 + reconnectPhaseMs(timings) + queryWindowMs(timings) + 300;
    case 'ping':
      return base + timings.pingIntervalMs + timings.pongTimeoutMs + 2 * timings.slackMs + reconnectAfterCloseMs(timings) + 100;
    case 'cancel':
      return base + timings.cancelAfterMs + 2 * timings.slackMs + 200;
    case 'unknown':
      return base + 2 * timings.ackTimeoutMs + timings.slackMs + 300;
    case 'seedAck':
    case 'noAck':
      return base + answeredHoldMs(timings) + 300;
  }
}

/** The env contract of the client command. */
export function clientEnv(options: ResolvedClientSuiteOptions, kind: ScenarioKind): Record<string, string> {
  return {
    ...options.env,
    SWITCHBOARD_DISCOVERY_PORT: String(options.discoveryPort),
    SWITCHBOARD_BROADCAST: LOOPBACK_BROADCAST,
    SWITCHBOARD_SERVICE: options.serviceName,
    SWITCHBOARD_OPERATION: options.operation,
    SWITCHBOARD_PARAMS_JSON: JSON.stringify(options.params),
    SWITCHBOARD_CONFORMANCE_SCENARIO: kind,
    ...scripts[kind].env?.(options.timings),
  };
}

/** Runs one scenario to its end, whatever happens; never rejects. */
export async function runScenario(kind: ScenarioKind, options: ResolvedClientSuiteOptions): Promise<ScenarioRecord> {
  const script = scripts[kind];
  const recorder = new Recorder();
  const provider = new ScriptedProvider({
    recorder,
    discoveryPort: options.discoveryPort,
    serviceName: options.serviceName,
    operation: options.operation,
    params: options.params,
    form: kind === 'liberal' ? 'liberal' : 'seed',
    heartbeatIntervalMs: options.timings.heartbeatIntervalMs,
  });
  const answers = new Answers(provider, recorder, script.policy);
  const exited = (event: ScenarioEvent) => event.kind === 'exit';
  const context: ScenarioContext = {
    recorder,
    provider,
    answers,
    timings: options.timings,
    async wait(test, timeoutMs) {
      const event = await recorder.waitFor((e) => test(e) || exited(e), timeoutMs);
      return event !== undefined && test(event) ? event : undefined;
    },
    async pause(ms) {
      await recorder.waitFor(exited, ms);
    },
  };
  let client: ClientProcess | undefined;
  let error: string | undefined;
  let events: readonly ScenarioEvent[] = [];
  options.log(`scenario ${kind}: starting`);
  try {
    await provider.start();
    script.setup?.(context);
    client = new ClientProcess(options.command, { env: clientEnv(options, kind), cwd: options.cwd, recorder });
    recorder.mark('client-started', String(client.pid ?? ''));
    await script.run(context);
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  } finally {
    recorder.mark('scenario-end');
    events = [...recorder.events];
    answers.stop();
    await client?.kill();
    await provider.stop();
  }
  options.log(`scenario ${kind}: done in ${Math.round(recorder.now())} ms${error === undefined ? '' : ` (${error})`}`);
  return {
    kind,
    events,
    endpoint: provider.endpoint,
    path: provider.path,
    droppedEvents: recorder.dropped,
    clientTail: client?.tail() ?? '',
    durationMs: recorder.now(),
    ...(error === undefined ? {} : { error }),
  };
}

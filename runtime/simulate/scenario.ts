/**
 * The scenario format of `switchboard simulate` (docs/simulation.md): who takes part (providers
 * with their services, clients with their workloads), the options of each, and a fault schedule,
 * explicit or drawn at random from the run's seed. One zod schema validates a file and gives
 * editors a JSON Schema (`switchboard simulate --schema`, docs/scenario.schema.json).
 *
 * Durations are milliseconds or strings such as `250ms`, `2s`, `10m`; they come out of `parse`
 * as whole milliseconds.
 */
import * as z from 'zod';
import { parseDuration } from './duration.js';

const DURATION_PATTERN = /^\s*(\d+|(\d+(\.\d+)?(ms|s|m|h))+)\s*$/;
const DAY_MS = 86_400_000;

const duration = (description: string) =>
  z
    .union([z.number().int().min(0).max(DAY_MS), z.string().regex(DURATION_PATTERN, 'a duration such as 250ms, 2s or 10m')])
    .transform((value, context) => {
      const ms = parseDuration(value);
      if (ms === undefined || ms > DAY_MS) {
        context.addIssue({ code: 'custom', message: `"${value}" is not a duration of at most a day` });
        return z.NEVER;
      }
      return ms;
    })
    .describe(description);

/** A fixed duration, or [min, max] drawn uniformly per use. */
const durationRange = (description: string) =>
  z
    .union([duration(description), z.tuple([duration('least'), duration('most')])])
    .transform((value, context) => {
      const [min, max] = Array.isArray(value) ? value : [value, value];
      if (min > max) {
        context.addIssue({ code: 'custom', message: `the range [${min}, ${max}] ms is empty` });
        return z.NEVER;
      }
      return { min, max };
    })
    .describe(description);

/** A number of bytes, or [least, most] drawn uniformly per use. */
const byteRange = (description: string) =>
  z
    .union([z.number().int().min(0).max(16_777_216), z.tuple([z.number().int().min(0).max(16_777_216), z.number().int().min(0).max(16_777_216)])])
    .transform((value, context) => {
      const [min, max] = Array.isArray(value) ? value : [value, value];
      if (min > max) {
        context.addIssue({ code: 'custom', message: `the range [${min}, ${max}] is empty` });
        return z.NEVER;
      }
      return { min, max };
    })
    .describe(description);

const probability = (description: string) => z.number().min(0).max(1).describe(description);
const NAME = /^[a-z][a-z0-9-]{0,30}$/;
const participantName = z.string().regex(NAME, 'a lower-case name: a letter, then letters, digits or dashes (at most 31)');
const SERVICE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

// ---- providers ---------------------------------------------------------------------------------

const simulatedOperation = z
  .strictObject({
    duration: durationRange('How long one run takes: a duration or [least, most]. @default 100ms').optional(),
    failureRate: probability('Probability that a run fails with failureCode. @default 0').optional(),
    failureCode: z.string().regex(ERROR_CODE).describe('The code a failing run throws. @default OPERATION_FAILED').optional(),
    progressSteps: z.number().int().min(0).max(100).describe('Progress reports per run, evenly spaced. @default 4').optional(),
  })
  .describe('A simulated operation: it sleeps (on the participant clock), reports progress, then completes or fails.');

/** The kinds a simulated event's data has (`{ id, n, kind }`): what subscription filters select on. */
export const EVENT_KINDS = ['red', 'green', 'blue'] as const;

const simulatedEvent = z
  .strictObject({
    every: durationRange('Time between two publications of each instance: a duration or [least, most] (drawn per publication).'),
    start: duration('First publication. @default 0').optional(),
    until: duration('No publication after this. @default the end of the fault phase').optional(),
    toClient: probability('Share of publications sent to one client (EVT-6) instead of every subscriber. @default 0').optional(),
    toGroup: probability('Share sent to the group "even" (the clients of even index, EVT-6). @default 0').optional(),
  })
  .describe('A simulated event: each instance publishes `{ id, n, kind }` (kind one of red, green, blue, drawn per publication).');

const simulatedService = z
  .strictObject({
    name: z.string().regex(SERVICE_NAME).describe('The service name clients ask for.'),
    version: z.string().min(1).describe('@default 1.0.0').optional(),
    operations: z.record(z.string().regex(SERVICE_NAME), simulatedOperation).describe('Operations by name.'),
    events: z.record(z.string().regex(SERVICE_NAME), simulatedEvent).describe('Events it publishes (EVT-1), by name.').optional(),
  })
  .describe('A service made of simulated operations (and events).');

const limitsSchema = z.strictObject({
  tasksRunningMax: z.number().int().min(1).optional(),
  tasksRunningPerClientMax: z.number().int().min(1).optional(),
  tasksQueuedMax: z.number().int().min(0).optional(),
  ledgerMax: z.number().int().min(1).optional(),
});

const providerOptions = z
  .strictObject({
    heartbeatInterval: duration('DISC-4 heartbeat period. @default 30s').optional(),
    limits: limitsSchema.describe('TASK-7 admission limits and the TASK-5 ledger bound.').optional(),
    sessionsMax: z.number().int().min(1).optional(),
    pingInterval: duration('CONN-3 ping period of each session. @default 5s').optional(),
    pongTimeout: duration('CONN-3 time a session waits for a pong. @default 5s').optional(),
    answerDelay: duration('CONN-2 time to answer a connection request. @default 1s').optional(),
    closeTimeout: duration('CONN-7 close handshake bound. @default 2s').optional(),
    signed: z
      .boolean()
      .describe(
        'SEC-8: sign advertisements with this instance\'s own Ed25519 key (derived from the run seed and the instance name, the same key after a restart, with a greater epoch). false: unsigned, as a seed-only provider; only clients with allowUnsigned believe it. @default true',
      )
      .optional(),
    events: z
      .strictObject({
        queueMax: z.number().int().min(1).describe('EVT-8 eventQueueMax. @default 1024').optional(),
        inFlightMax: z.number().int().min(1).describe('EVT-8 eventsInFlightMax. @default 64').optional(),
        linger: duration('EVT-10 subscriptionLingerMs. @default 60s').optional(),
      })
      .describe('Bounds of event subscriptions (docs/protocol.md, Defaults of the extensions).')
      .optional(),
    injectBug: z
      .strictObject({
        skipDuplicateCheck: z.boolean().describe('Runs a duplicate AssignTask again (breaks TASK-4). For checker self-tests only.').optional(),
        acceptWrongHash: z.boolean().describe('The file store keeps arriving bytes whatever they hash to (breaks FILE-2). For checker self-tests only.').optional(),
        loseEventEvery: z
          .number()
          .int()
          .min(1)
          .describe('Every n-th publication of an instance is queued for nobody, as by a provider that loses an event without counting it (breaks EVT-10). For checker self-tests only.')
          .optional(),
      })
      .describe('Deliberate bugs, to see the checker find them (docs/simulation.md).')
      .optional(),
  })
  .describe('Provider options (docs/protocol.md, Defaults).');

const providerSchema = z
  .strictObject({
    name: participantName.describe('The participant name faults refer to.'),
    count: z.number().int().min(1).max(32).describe('Instances: more than one are named <name>-1, <name>-2, ... @default 1').optional(),
    services: z.array(simulatedService).describe('Simulated services.').optional(),
    modules: z
      .array(z.string().min(1))
      .describe('Your own service modules (each exports defineService(...) results); paths relative to the scenario file.')
      .optional(),
    serviceIds: z
      .record(z.string().regex(SERVICE_NAME), z.string().min(1).max(256))
      .describe('Fixed serviceIds by service name, shared by every instance (a split brain); default: one per instance.')
      .optional(),
    options: providerOptions.optional(),
  });

// ---- clients -----------------------------------------------------------------------------------

const clientOptions = z
  .strictObject({
    discoveryPeriod: duration('DISC-2 period of discovery requests. @default 5m').optional(),
    defaultHeartbeatInterval: duration('DISC-9 heartbeat assumed when an advertisement has none. @default 30s').optional(),
    pingInterval: duration('CONN-3 ping period. @default 5s').optional(),
    pongTimeout: duration('CONN-3 pong wait. @default 5s').optional(),
    connectTimeout: duration('CONN-3 opening handshake bound. @default 5s').optional(),
    closeTimeout: duration('CONN-7 close handshake bound. @default 2s').optional(),
    backoff: z
      .strictObject({
        base: duration('CONN-4 first ceiling. @default 100ms').optional(),
        max: duration('CONN-4 largest ceiling. @default 10s').optional(),
        attemptsMax: z.number().int().min(0).max(1_000).optional(),
      })
      .optional(),
    outboxMax: z.number().int().min(1).optional(),
    tasksMax: z.number().int().min(1).optional(),
    ackTimeout: duration('TASK-3 wait for an Ack before re-sending. @default 2s').optional(),
    assignAttemptsMax: z.number().int().min(1).max(100).optional(),
    cancelTimeout: duration('TASK-18 wait for the answer to a cancel. @default 2s').optional(),
    allowUnsigned: z
      .boolean()
      .describe('SEC-8: believe unsigned advertisements (providers with signed: false); signed ones are trusted on first use either way. @default false')
      .optional(),
    retry: z
      .strictObject({
        codes: z.array(z.string().regex(ERROR_CODE)).min(1),
        attempts: z.number().int().min(1).max(10),
      })
      .describe('Assign again elsewhere after these failure codes (opting in allows an operation to run twice).')
      .optional(),
  })
  .describe('Client options (docs/protocol.md, Defaults).');

const workloadSchema = z
  .strictObject({
    service: z.string().regex(SERVICE_NAME),
    operation: z.string().regex(SERVICE_NAME),
    params: z.record(z.string(), z.unknown()).describe('The task parameters. @default {}').optional(),
    every: durationRange('Time between two submissions: a duration or [least, most] (drawn per task).'),
    count: z.number().int().min(1).max(100_000).describe('Tasks at most. @default unbounded (until `until`)').optional(),
    start: duration('First submission. @default 0').optional(),
    until: duration('No submission after this. @default the end of the fault phase').optional(),
    deadline: duration('TASK-14 deadline of each task.').optional(),
    cancel: z
      .strictObject({
        probability: probability('Share of tasks cancelled.'),
        after: durationRange('Time from submission to the cancel.'),
      })
      .optional(),
    files: z
      .strictObject({
        count: z.number().int().min(1).max(8).describe('Task files per task (in the parameter `files`).'),
        size: byteRange('Bytes of each file: a number or [least, most] (drawn per file).'),
        distinct: z.number().int().min(1).max(1_000).describe('How many different files the stream draws from (a small number: files repeat, FILE-3). @default 4').optional(),
        results: z
          .number()
          .int()
          .min(0)
          .max(8)
          .describe('Files each task\'s operation makes and returns (FILE-10); the client fetches them from that instance after the TaskResult (FILE-12). @default 0')
          .optional(),
      })
      .describe('Task files (FILE-12): each task uploads its files on a file link to the provider it is then assigned to.')
      .optional(),
  })
  .describe('A stream of tasks one client submits.');

const subscriptionSchema = z
  .strictObject({
    service: z.string().regex(SERVICE_NAME),
    event: z.string().regex(SERVICE_NAME),
    delivery: z.enum(['at-most-once', 'at-least-once']).describe('EVT-8, EVT-10. @default at-most-once').optional(),
    overflow: z.enum(['drop-oldest', 'close']).describe('EVT-11. @default drop-oldest').optional(),
    kinds: z.array(z.enum(EVENT_KINDS)).min(1).describe('Filter (EVT-7): only events of these kinds. @default every event').optional(),
    start: duration('When to subscribe. @default 0').optional(),
    until: duration('When to unsubscribe (EVT-12). @default never').optional(),
  })
  .describe('A subscription the client holds (EVT-4..EVT-13).');

const clientSchema = z.strictObject({
  name: participantName,
  count: z.number().int().min(1).max(32).describe('Instances, named like providers. @default 1').optional(),
  options: clientOptions.optional(),
  workload: z.array(workloadSchema).describe('What this client submits.').optional(),
  subscriptions: z.array(subscriptionSchema).describe('Events this client subscribes to.').optional(),
});

// ---- faults ------------------------------------------------------------------------------------

const target = participantName.describe('A participant (an instance name, or a base name for all its instances).');
const group = z.array(z.union([target, z.literal('*')])).min(1).describe('Participants; "*" is everyone not named in another group.');
const at = duration('When, from the start of the run.');
const lasting = duration('How long, after which the fault is undone. @default until the final heal').optional();

const linkFaults = {
  loss: probability('Datagram loss probability.').optional(),
  duplicate: probability('Datagram duplication probability.').optional(),
  reorder: probability('Probability that a datagram is held back so later ones overtake it.').optional(),
  delay: durationRange('One-way delay of datagrams and frames: a duration or [least, most].').optional(),
  corrupt: probability('Probability that a file chunk on a file link has a byte flipped (a broken link or sender; FILE-2 must catch it).').optional(),
};

export const faultSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('partition'),
    at,
    for: lasting,
    groups: z.array(group).min(2).describe('Traffic between different groups is cut.'),
    oneWay: z.boolean().describe('Only traffic from the first group to the others is cut (asymmetric). @default false').optional(),
  }),
  z.strictObject({ type: z.literal('heal'), at }).describe('Removes every partition and link fault.'),
  z.strictObject({
    type: z.literal('link'),
    at,
    for: lasting,
    from: z.union([target, z.literal('*')]),
    to: z.union([target, z.literal('*')]),
    ...linkFaults,
  }),
  z.strictObject({
    type: z.literal('crash'),
    at,
    target,
    restartAfter: duration('Restart (a new incarnation) after this long. @default at the final heal').optional(),
  }),
  z.strictObject({ type: z.literal('restart'), at, target }),
  z.strictObject({ type: z.literal('stall'), at, for: lasting, target }).describe('The participant stops reading its sockets.'),
  z.strictObject({ type: z.literal('freeze'), at, for: lasting, target }).describe('The participant is frozen (SIGSTOP): no timers, no reading.'),
  z.strictObject({
    type: z.literal('skew'),
    at,
    for: lasting,
    target,
    rate: z.number().min(0.1).max(10).describe('Speed of its clock: 0.5 runs at half speed, 2 twice as fast.'),
  }),
]);

export const FAULT_KINDS = ['partition', 'link', 'crash', 'stall', 'freeze', 'skew'] as const;
export type RandomFaultKind = (typeof FAULT_KINDS)[number];

const randomSchema = z
  .strictObject({
    faults: z.number().int().min(0).max(1_000).describe('Faults per run, drawn from the run seed.'),
    kinds: z.array(z.enum(FAULT_KINDS)).min(1).describe('@default partition, link, crash').optional(),
    longest: duration('Longest fault. @default a quarter of the fault phase').optional(),
  })
  .describe('Random fault schedules, one per seed, on top of the explicit faults.');

const networkSchema = z
  .strictObject(linkFaults)
  .describe('Faults of every link for the whole fault phase (the liveness phase has none). @default delay 1..5 ms');

export const scenarioSchema = z
  .strictObject({
    $schema: z.string().optional(),
    name: z.string().min(1).max(200).optional(),
    description: z.string().max(10_000).optional(),
    seed: z.number().int().min(0).max(2 ** 32 - 1).describe('Seed of the first run. @default 1').optional(),
    duration: duration('The fault phase: workloads run and faults happen in it. @default 60s').optional(),
    liveness: duration('The liveness phase after the final heal, in which everything must settle. @default derived from the options').optional(),
    network: networkSchema.optional(),
    providers: z.array(providerSchema).min(1),
    clients: z.array(clientSchema).min(1),
    faults: z.array(faultSchema).describe('The explicit fault schedule.').optional(),
    random: randomSchema.optional(),
  })
  .describe('A switchboard simulate scenario (docs/simulation.md).');

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type Scenario = z.output<typeof scenarioSchema>;
export type Fault = z.output<typeof faultSchema>;
export type FaultInput = z.input<typeof faultSchema>;
export type ProviderSpec = z.output<typeof providerSchema>;
export type ClientSpec = z.output<typeof clientSchema>;
export type Workload = z.output<typeof workloadSchema>;
export type SimulatedOperation = z.output<typeof simulatedOperation>;
export type SimulatedEvent = z.output<typeof simulatedEvent>;
export type SubscriptionSpec = z.output<typeof subscriptionSchema>;
export type Range = { readonly min: number; readonly max: number };

/**
 * A scenario that does not validate: every problem, with its path. A usage error of the
 * simulator (exit 2 from the CLI), not a protocol error: it has no code of docs/errors.md.
 */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
  ) {
    super(issues.length === 0 ? message : `${message}\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length === 0 ? '(top level)' : issue.path.map(String).join('.');
  return `${where}: ${issue.message}`;
}

/** Validates a scenario object; throws ScenarioError listing every problem. */
export function parseScenario(value: unknown): Scenario {
  const parsed = scenarioSchema.safeParse(value);
  if (!parsed.success) throw new ScenarioError('invalid scenario', parsed.error.issues.map(describeIssue));
  checkNames(parsed.data);
  return parsed.data;
}

/** Validates a JSON text (a file's content). */
export function parseScenarioText(text: string, source = 'scenario'): Scenario {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(`${source} is not JSON: ${(error as Error).message}`);
  }
  return parseScenario(value);
}

/** Validates a fault list given on its own (the replay command's --faults). */
export function parseFaults(value: unknown): Fault[] {
  const parsed = z.array(faultSchema).safeParse(value);
  if (!parsed.success) throw new ScenarioError('invalid fault list', parsed.error.issues.map(describeIssue));
  return parsed.data;
}

/** The instance names of a provider or client entry. */
export function instanceNames(entry: { readonly name: string; readonly count?: number | undefined }): string[] {
  const count = entry.count ?? 1;
  return count === 1 ? [entry.name] : Array.from({ length: count }, (_, index) => `${entry.name}-${index + 1}`);
}

/** Unique names, and every fault names someone who takes part. */
function checkNames(scenario: Scenario): void {
  const issues: string[] = [];
  const bases = new Set<string>();
  const instances = new Set<string>();
  for (const entry of [...scenario.providers, ...scenario.clients]) {
    if (bases.has(entry.name)) issues.push(`${entry.name}: two participants have this name`);
    bases.add(entry.name);
    for (const name of instanceNames(entry)) instances.add(name);
  }
  if (instances.size > 200) issues.push(`${instances.size} participants: at most 200`);
  const known = (name: string) => name === '*' || bases.has(name) || instances.has(name);
  (scenario.faults ?? []).forEach((fault, index) => {
    const names =
      fault.type === 'partition' ? fault.groups.flat() : fault.type === 'link' ? [fault.from, fault.to] : fault.type === 'heal' ? [] : [fault.target];
    for (const name of names) if (!known(name)) issues.push(`faults.${index}: no participant named ${name}`);
  });
  if (issues.length > 0) throw new ScenarioError('invalid scenario', issues);
}

/** The JSON Schema for editors (what docs/scenario.schema.json holds). */
export function scenarioJsonSchema(): Record<string, unknown> {
  return {
    ...(z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>),
    title: 'switchboard simulate scenario',
  };
}

/**
 * TASK-6 and SEC-5: an operation the provider does not offer, and parameters its schema refuses,
 * end in TaskFailed and never in a TaskResult. Core asks for the TaskFailed; full asks for
 * switchboard's codes (UNKNOWN_OPERATION without Ack, INVALID_PARAMETERS).
 *
 * Invalid parameters come from --invalid-params-json, else they are derived from the advertised
 * capability: every declared parameter (its `schema` properties, an extension, else its seed
 * `settings`) gets a value of a wrong JSON type. An operation that declares no parameters cannot
 * be given invalid ones this way: the checks are then not applicable.
 */
import { v4 as uuid } from 'uuid';
import { SEED } from '../seedWords.js';
import { fail, mismatch, notApplicable, pass, type Check } from '../types.js';
import { wrongParamsFor } from './capabilities.js';
import { payloadField, typeOf, type Frame } from './connection.js';
import { awaitOutcome } from './outcome.js';
import type { ProviderProbe, Selection } from './probe.js';
import { requireTestTask } from './tasks.js';
import { assign, describe, describeAll, framesOf } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

interface Refusal {
  readonly final: Frame | undefined;
  readonly frames: readonly Frame[];
  readonly what: string;
}

async function refusalOf(probe: ProviderProbe, selection: Selection, operation: string, params: Record<string, unknown>, serviceName?: string): Promise<Refusal> {
  const connection = await probe.connect();
  const run = assign(connection, probe, selection, { operation, params }, serviceName === undefined ? {} : { serviceName });
  const { final } = await awaitOutcome(probe, run);
  await connection.quiet(final === undefined ? 0 : 100);
  return { final, frames: framesOf(run), what: `AssignTask ${serviceName ?? selection.serviceName}.${operation} ${JSON.stringify(params).slice(0, 100)}` };
}

const NO_SUCH_OPERATION = 'conformanceNoSuchOperation';

function unknownOperations(probe: ProviderProbe): Promise<{ operation: Refusal; service: Refusal }> {
  return probe.memo('task.unknownOperation', async () => {
    await requireTestTask(probe);
    const selection = await probe.testTask();
    const operation = await refusalOf(probe, selection, `${NO_SUCH_OPERATION}${uuid().slice(0, 8)}`, {});
    const service = await refusalOf(probe, selection, selection.quick.operation, {}, `ConformanceNoSuchService${uuid().slice(0, 8)}`);
    return { operation, service };
  });
}

function judgeRefusal(refusal: Refusal, probe: ProviderProbe): string | undefined {
  if (refusal.final === undefined) return mismatch({ sent: refusal.what, expected: `TaskFailed within ${probe.timing.taskTimeoutMs} ms`, observed: describeAll(refusal.frames) });
  if (typeOf(refusal.final) !== 'TaskFailed') return mismatch({ sent: refusal.what, expected: 'TaskFailed, never a result', observed: describe(refusal.final) });
  return undefined;
}

const unknownOperation: ProviderCheck = {
  name: 'provider.assign.unknownOperation',
  requirements: ['TASK-6'],
  level: 'core',
  title: 'an unknown operation or service gets TaskFailed, never a result',
  seed: SEED.failed,
  timeoutMs: 20_000,
  run: async (probe) => {
    const { operation, service } = await unknownOperations(probe);
    const problem = judgeRefusal(operation, probe) ?? judgeRefusal(service, probe);
    return problem === undefined ? pass(`unknown operation: ${describe(operation.final)}; unknown service: ${describe(service.final)}`) : fail(problem);
  },
};

const unknownOperationCode: ProviderCheck = {
  name: 'provider.assign.unknownOperationCode',
  requirements: ['TASK-6'],
  level: 'full',
  title: 'an unknown operation is refused with UNKNOWN_OPERATION and no Ack',
  timeoutMs: 20_000,
  run: async (probe) => {
    const { operation, service } = await unknownOperations(probe);
    const problems: string[] = [];
    for (const refusal of [operation, service]) {
      const problem = judgeRefusal(refusal, probe);
      if (problem !== undefined) problems.push(problem);
      else if (payloadField(refusal.final!, 'errorCode') !== 'UNKNOWN_OPERATION') problems.push(`${refusal.what}: errorCode ${JSON.stringify(payloadField(refusal.final!, 'errorCode'))}`);
      const ack = refusal.frames.find((frame) => typeOf(frame) === 'Ack');
      if (ack !== undefined) problems.push(`${refusal.what}: acknowledged (${describe(ack)}) although refused`);
    }
    return problems.length === 0 ? pass(`${describe(operation.final)}; ${describe(service.final)}`) : fail(problems.join('; '));
  },
};

/** Invalid parameters for the quick operation, and where they came from; undefined when none can be made. */
export function invalidParamsFor(probe: ProviderProbe, selection: Selection): { params: Record<string, unknown>; source: string } | undefined {
  if (probe.options.invalidParams !== undefined) return { params: { ...probe.options.invalidParams }, source: '--invalid-params-json' };
  const capability = selection.capabilities?.find((candidate) => candidate.key === selection.quick.operation);
  return capability === undefined ? undefined : wrongParamsFor(capability, selection.quick.params);
}

function invalidParameters(probe: ProviderProbe): Promise<(Refusal & { source: string }) | undefined> {
  return probe.memo('task.invalidParameters', async () => {
    await requireTestTask(probe);
    const selection = await probe.testTask();
    const invalid = invalidParamsFor(probe, selection);
    if (invalid === undefined) return undefined;
    const refusal = await refusalOf(probe, selection, selection.quick.operation, invalid.params);
    return { ...refusal, source: `${invalid.source}: ${JSON.stringify(invalid.params).slice(0, 120)}` };
  });
}

const NOT_DERIVABLE = 'the operation under test declares no parameters (no settings, no schema): pass --invalid-params-json';

const invalidParams: ProviderCheck = {
  name: 'provider.assign.invalidParameters',
  requirements: ['TASK-6', 'SEC-5'],
  level: 'core',
  title: 'parameters of the wrong type get TaskFailed, never a result',
  seed: SEED.validation,
  run: async (probe) => {
    const refusal = await invalidParameters(probe);
    if (refusal === undefined) return notApplicable(NOT_DERIVABLE);
    const problem = judgeRefusal(refusal, probe);
    return problem === undefined ? pass(`${describe(refusal.final)} (parameters ${refusal.source})`) : fail(`${problem} (parameters ${refusal.source})`);
  },
};

const invalidParamsCode: ProviderCheck = {
  name: 'provider.assign.invalidParametersCode',
  requirements: ['TASK-6', 'SEC-5'],
  level: 'full',
  title: 'parameters of the wrong type fail with INVALID_PARAMETERS',
  run: async (probe) => {
    const refusal = await invalidParameters(probe);
    if (refusal === undefined) return notApplicable(NOT_DERIVABLE);
    const problem = judgeRefusal(refusal, probe);
    if (problem !== undefined) return fail(problem);
    const code = payloadField(refusal.final!, 'errorCode');
    return code === 'INVALID_PARAMETERS' ? pass(describe(refusal.final)) : fail(mismatch({ sent: `parameters ${refusal.source}`, expected: 'errorCode INVALID_PARAMETERS', observed: `errorCode ${JSON.stringify(code)}` }));
  },
};

export const refusalChecks: readonly ProviderCheck[] = [unknownOperation, unknownOperationCode, invalidParams, invalidParamsCode];

/**
 * Valid messages in forms other than switchboard's own (WIRE-4, WIRE-5, WIRE-7): a provider must
 * take every valid message, not only the ones its own client writes.
 *
 * - core: AssignTask exactly as the seed writes it: a timestamp without fraction
 *   (`2025-07-02T11:50:00Z`) and the seed's own optional `acknowledgmentId` in the payload
 *   ("The sender (Client) includes an acknowledgmentId in the message").
 * - full: optional fields left out (taskParameters, when the operation's schema needs none), a
 *   timestamp with an offset and one as epoch milliseconds, and fields the provider does not know.
 *
 * Each must be taken as the test task is: it reaches the same kind of final message, and no Error
 * refuses it.
 */
import { SEED } from '../seedWords.js';
import { fail, mismatch, pass, type Check } from '../types.js';
import { acceptsNoParameters } from './capabilities.js';
import { meaningOf } from './meaning.js';
import { awaitOutcome } from './outcome.js';
import type { ProviderProbe } from './probe.js';
import { requireTestTask } from './tasks.js';
import { assign, describe, describeAll, describeExpected, framesOf, isExpectedFinal } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;
type Json = Record<string, unknown>;

interface Variant {
  readonly what: string;
  readonly shape: (wire: Json) => Json;
  /** The variant changes the parameters: any final message will do, only a refusal fails. */
  readonly anyFinal?: boolean;
}

const payloadOf = (wire: Json) => wire.payload as Json;
const secondsOnly = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

async function tryVariants(probe: ProviderProbe, variants: readonly Variant[]): Promise<{ problems: string[]; seen: string[] }> {
  await requireTestTask(probe);
  const selection = await probe.testTask();
  const problems: string[] = [];
  const seen: string[] = [];
  for (const variant of variants) {
    const connection = await probe.connect();
    const run = assign(connection, probe, selection, selection.quick, { shape: variant.shape });
    const outcome = await awaitOutcome(probe, run);
    const refusal = framesOf(run).find((frame) => meaningOf(frame).kind === 'error');
    const sent = `AssignTask ${variant.what}: ${run.text.slice(0, 160)}`;
    if (refusal !== undefined) problems.push(mismatch({ sent, expected: 'the task taken like any other', observed: describe(refusal) }));
    else if (outcome.final === undefined) problems.push(mismatch({ sent, expected: 'a final message', observed: describeAll(framesOf(run)) }));
    else if (!variant.anyFinal && !isExpectedFinal(selection, outcome.final)) problems.push(mismatch({ sent, expected: describeExpected(selection), observed: describe(outcome.final) }));
    else seen.push(`${variant.what}: ${describe(outcome.final)}`);
  }
  return { problems, seen };
}

const seedForms: ProviderCheck = {
  name: 'provider.wire.seedForms',
  requirements: ['WIRE-5', 'WIRE-7'],
  level: 'core',
  title: "AssignTask exactly as the seed writes it (timestamp without fraction, with acknowledgmentId) is taken",
  seed: `${SEED.assignTask} … ${SEED.ackOptional}`,
  timeoutMs: 20_000,
  run: async (probe) => {
    const { problems, seen } = await tryVariants(probe, [
      {
        what: "in the seed's form (a timestamp without fraction, payload.acknowledgmentId)",
        shape: (wire) => ({ ...wire, timestamp: secondsOnly(), payload: { ...payloadOf(wire), acknowledgmentId: wire.messageId } }),
      },
    ]);
    return problems.length === 0 ? pass(seen.join('; ')) : fail(problems.join('; '));
  },
};

const liberalInput: ProviderCheck = {
  name: 'provider.wire.liberalInput',
  requirements: ['WIRE-4', 'WIRE-5'],
  level: 'full',
  title: 'valid AssignTasks with optional fields left out, other timestamp forms and unknown fields are taken',
  timeoutMs: 30_000,
  run: async (probe) => {
    const selection = await probe.testTask();
    const capability = selection.capabilities?.find((candidate) => candidate.key === selection.quick.operation);
    const variants: Variant[] = [
      { what: 'with a timestamp with an offset', shape: (wire) => ({ ...wire, timestamp: new Date().toISOString().replace('Z', '+00:00') }) },
      { what: 'with an epoch-milliseconds timestamp', shape: (wire) => ({ ...wire, timestamp: Date.now() }) },
      { what: 'with fields the provider does not know', shape: (wire) => ({ ...wire, conformanceExtension: { note: 'ignore me' }, payload: { ...payloadOf(wire), futureField: [1, 2, 3] } }) },
    ];
    if (acceptsNoParameters(capability) === true) {
      variants.unshift({
        what: 'without taskParameters (its schema needs none)',
        anyFinal: true,
        shape: (wire) => {
          const { taskParameters: _left, ...payload } = payloadOf(wire);
          return { ...wire, payload };
        },
      });
    }
    const { problems, seen } = await tryVariants(probe, variants);
    return problems.length === 0 ? pass(seen.join('; ')) : fail(problems.join('; '));
  },
};

export const formChecks: readonly ProviderCheck[] = [seedForms, liberalInput];

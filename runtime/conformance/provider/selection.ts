/**
 * What the suite assigns: the service, a quick test operation and its parameters, an optional
 * slow one, and the final message the test task is known to end with.
 *
 * With `--operation` the user's choice is taken as is and must end in a TaskResult. Without it
 * (a user who only has an endpoint, say against `switchboard provider`), the suite picks from the
 * advertised capabilities: each operation gets parameters its schema accepts (capabilities.ts),
 * operations named like a probe (echo, ping, ...) first, then those needing the fewest
 * parameters, and each is run once. The first that ends in a TaskResult is the test task. When
 * none does, one that ends the same deterministic way (a TaskFailed with the service's own code,
 * like FILE_NOT_FOUND for an image service without its files) is used, and the checks judge
 * that outcome. When nothing usable is found the task checks are not applicable, and the report
 * names the options to give.
 */
import { capabilitiesOf, paramsFor, requiredCount, type AdvertisedCapability } from './capabilities.js';
import type { TaskChoice } from './options.js';
import { awaitOutcome } from './outcome.js';
import type { ProviderProbe } from './probe.js';
import { assign, describe } from './taskRun.js';
import { meaningOf } from './meaning.js';

export interface Selection {
  readonly serviceName: string;
  readonly quick: TaskChoice;
  readonly slow: TaskChoice | undefined;
  /** The service's capabilities as advertised (either form), when discovery found them. */
  readonly capabilities: readonly AdvertisedCapability[] | undefined;
  /** The final message the test task ends with. */
  readonly expected: { readonly type: 'TaskResult' } | { readonly type: 'TaskFailed'; readonly errorCode: string };
  /** `options`: named by the user; `schema`: chosen by the suite from the advertisement. */
  readonly origin: 'options' | 'schema';
  /** How the choice was made, for evidence. */
  readonly note: string;
}

/** Codes that say the request itself was wrong, not that the operation ran: never a test task's outcome. */
const REQUEST_REFUSED = new Set(['INVALID_PARAMETERS', 'UNKNOWN_OPERATION', 'UNAUTHENTICATED', 'FORBIDDEN', 'INVALID_MESSAGE', 'OVERLOADED', 'RATE_LIMITED', 'PROVIDER_DRAINING']);
const PROBE_NAMES = /^(echo|ping|probe|noop|hello|health|status|test|quick)/i;

/** How long a candidate may take when the suite tries operations on its own. */
const TRIAL_TIMEOUT_MS = 5_000;

export const OPTIONS_HINT = 'pass --operation and --params-json naming a quick operation that succeeds (and --slow-operation for the cancel checks)';

function order(capabilities: readonly AdvertisedCapability[]): AdvertisedCapability[] {
  return [...capabilities].sort((a, b) => Number(PROBE_NAMES.test(b.key)) - Number(PROBE_NAMES.test(a.key)) || requiredCount(a) - requiredCount(b));
}

/** The selection, or a reason there is none (then `usable` is false and the task checks are not applicable). */
export type Choice = { readonly usable: true; readonly selection: Selection } | { readonly usable: false; readonly evidence: string };

export async function chooseSelection(probe: ProviderProbe, advertisements: readonly unknown[]): Promise<Choice> {
  const { service, operation, slowOperation } = probe.options;
  const advertisement = service === undefined ? advertisements[0] : advertisements.find((ad) => (ad as { serviceName?: unknown }).serviceName === service);
  const serviceName = service ?? (advertisement as { serviceName?: string } | undefined)?.serviceName;
  if (serviceName === undefined) return { usable: false, evidence: `discovery got no advertisement, so there is no service to test: pass --service and --operation (and check --udp)` };
  const capabilities = advertisement === undefined ? undefined : capabilitiesOf(advertisement);
  const slow = slowOperation === undefined ? undefined : { operation: slowOperation, params: probe.options.slowParams ?? {} };
  if (operation !== undefined) {
    const quick = { operation, params: probe.options.params ?? {} };
    return { usable: true, selection: { serviceName, quick, slow, capabilities, expected: { type: 'TaskResult' }, origin: 'options', note: `--operation ${operation}` } };
  }
  if (capabilities === undefined || capabilities.length === 0) {
    return { usable: false, evidence: `${serviceName} advertises no capability the suite can read: ${OPTIONS_HINT}` };
  }
  const tried: string[] = [];
  let fallback: Selection | undefined;
  for (const capability of order(capabilities)) {
    const tag = probe.clientId.slice(-8);
    const minimal = paramsFor(capability, tag);
    if (minimal === undefined) {
      tried.push(`${capability.key}: no parameters could be made from its schema`);
      continue;
    }
    // The required parameters first; when those are refused as invalid, once more with the
    // optional scalars filled too (a constraint the schema does not state, such as "a and b, or c").
    const fuller = paramsFor(capability, tag, { optionalScalars: true });
    const attempts = fuller === undefined || JSON.stringify(fuller) === JSON.stringify(minimal) ? [minimal] : [minimal, fuller];
    for (const params of attempts) {
      const quick = { operation: capability.key, params };
      const base = { serviceName, quick, slow, capabilities, origin: 'schema' as const };
      const connection = await probe.connect();
      try {
        const run = assign(connection, probe, { ...base, expected: { type: 'TaskResult' }, note: '' }, quick);
        const outcome = await awaitOutcome(probe, run, { timeoutMs: TRIAL_TIMEOUT_MS });
        const final = outcome.final;
        const meaning = final === undefined ? undefined : meaningOf(final);
        tried.push(`${capability.key} ${JSON.stringify(params)}: ${describe(final)}`);
        if (meaning?.kind === 'result') {
          return { usable: true, selection: { ...base, expected: { type: 'TaskResult' }, note: `chosen from the advertised schema: ${capability.key} ${JSON.stringify(params)} succeeds` } };
        }
        if (meaning?.kind === 'failed' && typeof meaning.errorCode === 'string' && !REQUEST_REFUSED.has(meaning.errorCode) && fallback === undefined) {
          fallback = { ...base, expected: { type: 'TaskFailed', errorCode: meaning.errorCode }, note: `no operation succeeded with parameters made from its schema; ${capability.key} ${JSON.stringify(params)} ends TaskFailed ${meaning.errorCode}, and the checks judge that outcome` };
        }
        if (!(meaning?.kind === 'failed' && meaning.errorCode === 'INVALID_PARAMETERS')) break;
      } finally {
        connection.terminate();
      }
    }
  }
  if (fallback !== undefined) return { usable: true, selection: { ...fallback, note: `${fallback.note} (tried: ${tried.join('; ')})` } };
  return { usable: false, evidence: `no operation of ${serviceName} could be run with parameters made from its advertised schema (${tried.join('; ')}): ${OPTIONS_HINT}` };
}

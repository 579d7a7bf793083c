/**
 * Wire checks (WIRE-1, WIRE-2, WIRE-3, WIRE-10) over everything the provider sent during the run so
 * far: each check first runs the test task on a fresh connection (so there is traffic to judge
 * even when it runs alone), then judges the suite's whole frame log and the advertisements.
 */
import { SEED } from '../seedWords.js';
import { Blocked, fail, pass, type Check } from '../types.js';
import { member } from './connection.js';
import { repliesOf, type ProviderProbe } from './probe.js';
import { completeOrBlocked } from './tasks.js';
import { advertisementProblems, frameProblems, type Strictness } from './wire.js';

type ProviderCheck = Check<ProviderProbe>;

async function judgeFrames(probe: ProviderProbe, strictness: Strictness): Promise<{ problems: string[]; frames: number; datagrams: number }> {
  await completeOrBlocked(probe, await probe.connect());
  const problems = probe.frameLog.flatMap((frame) => frameProblems(frame, strictness));
  const ids = probe.frameLog.map((frame) => member(frame.json, 'messageId')).filter((id): id is string => typeof id === 'string');
  const repeated = ids.filter((id, index) => ids.indexOf(id) !== index);
  if (repeated.length > 0) {
    problems.push(`messageId used by more than one message (the seed: "messageId: string (UUID/GUID) - Unique identifier for the message"): ${[...new Set(repeated)].slice(0, 3).join(', ')}`);
  }
  const advertisements = repliesOf(await probe.discover());
  if (strictness === 'full') problems.push(...advertisements.flatMap((datagram) => advertisementProblems(datagram, 'full').map((problem) => `ServiceAdvertisement: ${problem}`)));
  return { problems, frames: probe.frameLog.length, datagrams: advertisements.length };
}

function verdict(result: { problems: string[]; frames: number; datagrams: number }) {
  if (result.frames === 0) return fail('the provider sent no WebSocket message to judge');
  const distinct = [...new Set(result.problems)];
  if (distinct.length > 0) return fail(`${result.problems.length} problem(s) in ${result.frames} message(s): ${distinct.slice(0, 4).join('; ')}`);
  return pass(`${result.frames} message(s)${result.datagrams > 0 ? ` and ${result.datagrams} advertisement(s)` : ''} judged, all well formed`);
}

const framesCheck: ProviderCheck = {
  name: 'provider.wire.frames',
  requirements: ['WIRE-1', 'WIRE-2', 'WIRE-3', 'WIRE-10'],
  level: 'core',
  title: 'every message is a JSON envelope (type, messageId, timestamp, payload) of a seed message type, with unique messageIds',
  seed: SEED.envelope,
  run: async (probe) => verdict(await judgeFrames(probe, 'core')),
};

const canonicalCheck: ProviderCheck = {
  name: 'provider.wire.canonical',
  requirements: ['WIRE-3'],
  level: 'full',
  title: 'messages use the exact forms: text frames, canonical timestamps and status words, originalClientId',
  run: async (probe) => {
    // What the core check already finds wrong is its failure, not this one's.
    if ((await judgeFrames(probe, 'core')).problems.length > 0) throw new Blocked('provider.wire.frames', 'the messages already fail the core forms');
    return verdict(await judgeFrames(probe, 'full'));
  },
};

export const wireChecks: readonly ProviderCheck[] = [framesCheck, canonicalCheck];

/**
 * The client suite's file check (FILE-1): a client never sends a file message, a binary message
 * or a file link to a provider that does not announce "files" (the scripted provider announces no
 * features). The broken client `filesWithoutFeature` (the reference client offering its
 * parameters as a file whatever the advertisement says) fails it, run as a real process; the
 * reference client passes it; and the analysis over hand-made records fails each of the three
 * ways and passes a plain task.
 */
import { describe, expect, it } from 'vitest';
import { clientChecks, resolveClientSuiteOptions, runClientSuite, type ScenarioRecord } from '../runtime/conformance/client/index.js';
import type { ScenarioEvent } from '../runtime/conformance/client/recorder.js';
import { brokenClients } from './fixtures/brokenClients.js';
import { brokenClientCommand, REFERENCE_CLIENT_TIMINGS, ROOT } from './support/conformanceSweep.js';
import { allocatePort } from './support/ports.js';

const CHECK = 'client.files.unannounced';

const run = async (name: string) =>
  runClientSuite({ command: brokenClientCommand(name), level: 'full', only: [CHECK], discoveryPort: await allocatePort(), cwd: ROOT, timings: REFERENCE_CLIENT_TIMINGS });

describe.concurrent('client.files.unannounced (FILE-1)', () => {
  it('fails the broken client that offers a file to a provider without "files", citing FILE-1', { timeout: 30_000 }, async () => {
    const entry = brokenClients.find((candidate) => candidate.name === 'filesWithoutFeature')!;
    expect(entry.breaks).toEqual(['FILE-1']);
    const report = await run(entry.name);
    expect(report.checks.map((check) => [check.name, check.status])).toEqual([[CHECK, 'fail']]);
    expect(report.checks[0]!.evidence).toContain('FileOffer');
  });

  it('passes the reference client', { timeout: 30_000 }, async () => {
    const report = await run('reference');
    expect(report.checks.map((check) => `${check.name} ${check.status}: ${check.evidence}`)).toEqual([
      `${CHECK} pass: no file message, binary message or file link to a provider without "files" over a whole task`,
    ]);
  });

  it('judges a record: a file message, a binary message or a /files link fails; a plain task passes', () => {
    const check = clientChecks().find((candidate) => candidate.name === CHECK)!;
    const options = resolveClientSuiteOptions({ command: ['true'], level: 'full', discoveryPort: 1 });
    const assign: ScenarioEvent = { kind: 'frame', at: 10, connId: 1, text: '{}', raw: { type: 'AssignTask', payload: { taskId: 't' } } };
    const recordOf = (...events: ScenarioEvent[]): ScenarioRecord => ({
      kind: 'normal',
      events: [{ kind: 'upgrade', at: 1, connId: 1, path: '/conformance/x', refused: false }, assign, ...events],
      endpoint: 'ws://127.0.0.1:1/conformance/x',
      path: '/conformance/x',
      droppedEvents: 0,
      clientTail: '',
      durationMs: 100,
    });
    expect(check.analyse(recordOf(), options).status).toBe('pass');
    expect(check.analyse(recordOf({ kind: 'frame', at: 5, connId: 1, text: '{}', raw: { type: 'FileRequest', payload: {} } }), options).evidence).toContain('FileRequest');
    expect(check.analyse(recordOf({ kind: 'frame', at: 5, connId: 1, text: '\u0001', raw: undefined, binary: true }), options).evidence).toContain('1 binary message');
    expect(check.analyse(recordOf({ kind: 'upgrade', at: 5, connId: 2, path: '/files?clientId=c', refused: false }), options).evidence).toContain('file link (/files?clientId=c)');
  });
});

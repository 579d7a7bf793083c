/**
 * The client conformance suite (runtime/conformance/client), end to end on loopback: our own
 * client (specs/fixtures/clients/switchboardClient.ts) passes levels core and full; a selection of
 * the broken clients (specs/fixtures/brokenClients.ts), one per class the suite used to miss,
 * fails, and every failing check cites the requirement it breaks; `switchboard assign` works as a
 * target. Plus the pure parts (backoff judgement, the analysis of a hand-made record) without
 * processes. The reference client, the whole sweep and the seed-only client are in the slow tier.
 *
 * Real processes and sockets, bounded: every scenario has deadlines, every client is killed by
 * pid at the end of its scenario. The whole file takes about a minute.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { constantDelays, judgeBackoff, reconnectAttempts } from '../runtime/conformance/client/backoff.js';
import { expandArgument } from '../runtime/conformance/client/clientProcess.js';
import { clientChecks, runClientSuite, timingDefaults, type ClientSuiteTimings, type ScenarioRecord } from '../runtime/conformance/client/index.js';
import { isCanonicalTimestamp, maxInWindow } from '../runtime/conformance/client/observe.js';
import { resolveClientSuiteOptions } from '../runtime/conformance/client/options.js';
import type { ScenarioEvent } from '../runtime/conformance/client/recorder.js';
import type { SuiteReport } from '../runtime/conformance/types.js';
import { brokenClients } from './fixtures/brokenClients.js';
import { brokenClientCommand, REFERENCE_CLIENT_TIMINGS } from './support/conformanceSweep.js';
import { allocatePort } from './support/ports.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tsNode = (file: string): string[] => ['node', '--import', 'tsx', path.join(ROOT, file)];

/** The fixture client's settings (its defaults, the same as the reference client's), told to the suite. */
const FIXTURE_TIMINGS: Partial<ClientSuiteTimings> = REFERENCE_CLIENT_TIMINGS;

const failures = (report: SuiteReport) => report.checks.filter((check) => check.status === 'fail');
const explain = (report: SuiteReport): string =>
  report.checks.map((check) => `${check.status} ${check.name} [${check.requirements.join(',')}]: ${check.evidence}`).join('\n');

describe.concurrent('client suite against switchboard client (specs/fixtures/clients/switchboardClient.ts)', () => {
  it('passes level core with no failure: DISC-2, CONN-1, TASK-1, TASK-3, TASK-11, CONN-3, CONN-4, WIRE-5', { timeout: 60_000 }, async () => {
    const report = await runClientSuite({ command: tsNode('specs/fixtures/clients/switchboardClient.ts'), level: 'core', discoveryPort: await allocatePort(), cwd: ROOT, timings: FIXTURE_TIMINGS });
    expect(report.failed, explain(report)).toBe(0);
    expect(report.checks.every((check) => check.level === 'core')).toBe(true);
    expect(report.passed).toBe(clientChecks().filter((check) => check.level === 'core').length);
    expect(report.suite).toBe('client');
  });

  it('passes level full with no failure: adds WIRE-3/4/5/10, TASK-10, CONN-6 and the backoff bounds', { timeout: 90_000 }, async () => {
    const report = await runClientSuite({ command: tsNode('specs/fixtures/clients/switchboardClient.ts'), level: 'full', discoveryPort: await allocatePort(), cwd: ROOT, timings: FIXTURE_TIMINGS });
    expect(report.failed, explain(report)).toBe(0);
    expect(report.notApplicable, explain(report)).toBe(0);
    expect(report.checks.length).toBe(clientChecks().length);
  });
});

describe.concurrent('client suite against broken clients (specs/fixtures/brokenClients.ts)', () => {
  const cases = [
    { name: 'discoveryStorm', only: ['client.discovery.requestRate'] },
    { name: 'resendStorm', only: ['client.assign.resendSpacing'] },
    { name: 'resendsForever', only: ['client.assign.resendBounded'] },
    { name: 'seedAckIgnored', only: ['client.assign.seedAck'] },
    { name: 'constantReconnect', only: ['client.reconnect.noHammering'] },
    { name: 'newTaskIdOnResend', only: ['client.assign.resendSameTask'] },
  ] as const;

  for (const { name, only } of cases) {
    const entry = brokenClients.find((candidate) => candidate.name === name)!;
    it(`${entry.breaks.join(', ')}: fails ${name} (${entry.defect}) with ${only.join(', ')}`, { timeout: 40_000 }, async () => {
      const report = await runClientSuite({ command: brokenClientCommand(name), level: 'full', only, discoveryPort: await allocatePort(), cwd: ROOT, timings: FIXTURE_TIMINGS });
      expect(failures(report).map((check) => check.name), explain(report)).toEqual([...only]);
      for (const check of failures(report)) expect(check.requirements.some((id) => entry.breaks.includes(id))).toBe(true);
    });
  }
});

describe('switchboard assign as a target', () => {
  it('DISC-2, CONN-1, TASK-1: `node bin/switchboard.js assign $SWITCHBOARD_SERVICE ...` discovers, connects and assigns', { timeout: 40_000 }, async () => {
    const command = ['node', 'bin/switchboard.js', 'assign', '$SWITCHBOARD_SERVICE', '$SWITCHBOARD_OPERATION', '--params-json', '$SWITCHBOARD_PARAMS_JSON'];
    const report = await runClientSuite({
      command,
      level: 'full',
      only: ['client.discovery', 'client.connect', 'client.assign.fields', 'client.task.quietAfterResult'],
      discoveryPort: await allocatePort(),
      cwd: ROOT,
      params: { text: 'from the assign CLI', width: 3 },
    });
    expect(report.failed, explain(report)).toBe(0);
    expect(report.passed).toBe(6);
  });
});

// ---- pure parts ------------------------------------------------------------------------------

describe('judging reconnect delays (CONN-4)', () => {
  const timings = { backoffBaseMs: 100, backoffCapMs: 10_000, backoffToleranceMs: 0 };

  it('accepts delays under full-jitter ceilings that grow', () => {
    expect(judgeBackoff([40, 150, 90, 700, 1_200, 2_900, 6_000], timings).ok).toBe(true);
  });

  it('rejects a delay above min(cap, 2 x base x 2^n), one doubling of tolerance included', () => {
    const verdict = judgeBackoff([40, 150, 900], timings);
    expect(verdict.ok).toBe(false);
    expect(verdict.evidence).toContain('attempt 2');
  });

  it('rejects a delay above the cap even late, where the doubling tolerance ends', () => {
    expect(judgeBackoff([50, 100, 200, 400, 800, 1_600, 3_200, 6_400, 10_500], timings).ok).toBe(false);
  });

  it('rejects delays that do not grow (a tight loop)', () => {
    const verdict = judgeBackoff([2, 1, 3, 2, 1, 2, 2, 1], timings);
    expect(verdict.ok).toBe(false);
    expect(verdict.evidence).toContain('do not grow');
  });

  it('rejects a tight loop even when stalls make a few of its many delays long', () => {
    const delays = Array.from({ length: 400 }, (_, n) => (n % 97 === 96 ? 216 : 2));
    expect(judgeBackoff(delays, { backoffBaseMs: 50, backoffCapMs: 1_000, backoffToleranceMs: 500 }).ok).toBe(false);
  });

  it('measures each delay from the refusal of the previous attempt, the first from the drop', () => {
    const events: ScenarioEvent[] = [
      { kind: 'mark', at: 1_000, label: 'dropped' },
      { kind: 'upgrade', at: 1_070, connId: 2, path: '/', refused: true },
      { kind: 'refused', at: 1_072, connId: 2 },
      { kind: 'upgrade', at: 1_300, connId: 3, path: '/', refused: false },
    ];
    expect(reconnectAttempts(events)?.delays).toEqual([70, 228]);
  });

  it('rejects a constant delay just under the per-second threshold, and accepts full jitter and plain doubling', () => {
    const timings = { backoffBaseMs: 50, backoffCapMs: 1_000, backoffToleranceMs: 500 };
    expect(constantDelays([112, 108, 111, 110, 109, 113, 110], timings)).toContain('the same delay after every failure');
    expect(judgeBackoff([112, 108, 111, 110, 109, 113, 110], timings).ok).toBe(false);
    expect(constantDelays([31, 12, 160, 95, 700, 240, 910], timings)).toBeUndefined();
    expect(constantDelays([50, 100, 200, 400, 800, 1_000, 1_000], timings)).toBeUndefined();
  });

  it('counts attempts in the busiest second', () => {
    expect(maxInWindow([0, 100, 200, 1_150, 1_160, 1_170, 1_180], 1_000)).toBe(5);
  });
});

describe('client checks on hand-made records', () => {
  const options = resolveClientSuiteOptions({ command: ['true'], timings: timingDefaults });
  const check = (name: string) => {
    const found = clientChecks().find((candidate) => candidate.name === name);
    if (found === undefined) throw new Error(`no check ${name}`);
    return found;
  };
  const record = (events: ScenarioEvent[]): ScenarioRecord => ({
    kind: 'normal',
    events,
    endpoint: 'ws://127.0.0.1:1/x',
    path: '/x',
    droppedEvents: 0,
    clientTail: '',
    durationMs: 0,
  });
  const datagram = (text: string, time: number): ScenarioEvent => ({ kind: 'datagram', at: time, from: { address: '127.0.0.1', port: 4_000 }, text, raw: JSON.parse(text) });

  it('WIRE-3: a discovery request with a numeric timestamp fails the request shape check', () => {
    const result = check('client.discovery.requestShape').analyse(
      record([datagram('{"discoveryType":"ClientServiceDiscoveryRequest","clientId":"c1","timestamp":1751457600123}', 10)]),
      options,
    );
    expect(result.status).toBe('fail');
    expect(result.evidence).toContain('timestamp');
  });

  it('DISC-2: connecting before any discovery request fails the request-at-start check', () => {
    const result = check('client.discovery.requestAtStart').analyse(
      record([
        { kind: 'mark', at: 0, label: 'client-started' },
        { kind: 'upgrade', at: 50, connId: 1, path: '/x', refused: false },
        datagram('{"discoveryType":"ClientServiceDiscoveryRequest","clientId":"c1","timestamp":"2025-07-02T11:45:00Z"}', 90),
      ]),
      options,
    );
    expect(result.status).toBe('fail');
  });

  it('TASK-11: no CancelTask is not applicable (the command does not honour SWITCHBOARD_CANCEL_AFTER_MS)', () => {
    const assign = '{"type":"AssignTask","messageId":"m1","timestamp":"2025-07-02T11:50:00Z","payload":{"taskId":"t1","serviceName":"S","operation":"o","taskParameters":{},"callbackClientId":"c1"}}';
    const result = check('client.cancel.message').analyse(record([{ kind: 'frame', at: 5, connId: 1, text: assign, raw: JSON.parse(assign) }]), options);
    expect(result.status).toBe('not-applicable');
  });

  it('WIRE-3: canonical timestamps end in Z and carry milliseconds only when not zero', () => {
    expect(['2025-07-02T11:45:05Z', '2025-07-02T11:45:05.250Z'].every(isCanonicalTimestamp)).toBe(true);
    expect(['2025-07-02T11:45:05.000Z', '2025-07-02T11:45:05+00:00', '2025-07-02 11:45:05Z', 1751457600123].some(isCanonicalTimestamp)).toBe(false);
  });

  it('expands $SWITCHBOARD_ variables in a command argument, and leaves others alone', () => {
    expect(expandArgument('--params-json=${SWITCHBOARD_PARAMS_JSON}', { SWITCHBOARD_PARAMS_JSON: '{"a":1}' })).toBe('--params-json={"a":1}');
    expect(expandArgument('$SWITCHBOARD_SERVICE $HOME $SWITCHBOARD_UNSET', { SWITCHBOARD_SERVICE: 'S' })).toBe('S $HOME $SWITCHBOARD_UNSET');
  });
});

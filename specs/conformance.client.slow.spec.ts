/**
 * The client conformance suite (runtime/conformance/client), end to end on loopback: our own
 * client (specs/fixtures/clients/switchboardClient.ts) passes levels core and full; each broken
 * client (specs/fixtures/brokenClients) fails, and every failing check cites the requirement it
 * breaks; `switchboard assign` works as a target. Plus the pure parts (backoff judgement, the
 * analysis of a hand-made record) without processes.
 *
 * Real processes and sockets, bounded: every scenario has deadlines, every client is killed by
 * pid at the end of its scenario. The whole file takes about a minute.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { judgeBackoff, reconnectAttempts } from '../runtime/conformance/client/backoff.js';
import { expandArgument } from '../runtime/conformance/client/clientProcess.js';
import { clientChecks, runClientSuite, timingDefaults, type ClientSuiteTimings, type ScenarioRecord } from '../runtime/conformance/client/index.js';
import { isCanonicalTimestamp, maxInWindow } from '../runtime/conformance/client/observe.js';
import { resolveClientSuiteOptions } from '../runtime/conformance/client/options.js';
import type { ScenarioEvent } from '../runtime/conformance/client/recorder.js';
import type { SuiteReport } from '../runtime/conformance/types.js';
import { allocatePort } from './support/ports.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tsNode = (file: string): string[] => ['node', '--import', 'tsx', path.join(ROOT, file)];

/** The fixture client's settings (its defaults), told to the suite. */
const FIXTURE_TIMINGS: Partial<ClientSuiteTimings> = {
  ackTimeoutMs: 400,
  withholdMs: 2_000,
  pingIntervalMs: 500,
  pongTimeoutMs: 500,
  backoffBaseMs: 50,
  backoffCapMs: 1_000,
  backoffToleranceMs: 500,
  // With base 50 ms, 11 attempts in a second happen about once in 40 000 runs; a tight loop makes hundreds.
  reconnectsPerSecondMax: 15,
  cancelAfterMs: 300,
  quietMs: 800,
};


const failures = (report: SuiteReport) => report.checks.filter((check) => check.status === 'fail');
const explain = (report: SuiteReport): string =>
  report.checks.map((check) => `${check.status} ${check.name} [${check.requirements.join(',')}]: ${check.evidence}`).join('\n');

describe('client suite against switchboard client (specs/fixtures/clients/switchboardClient.ts)', () => {
  it('passes level core with no failure: DISC-2, CONN-1, TASK-1, TASK-3, TASK-11, CONN-3, CONN-4', { timeout: 60_000 }, async () => {
    const report = await runClientSuite({ command: tsNode('specs/fixtures/clients/switchboardClient.ts'), level: 'core', discoveryPort: await allocatePort(), cwd: ROOT, timings: FIXTURE_TIMINGS });
    expect(report.failed, explain(report)).toBe(0);
    expect(report.checks.every((check) => check.level === 'core')).toBe(true);
    expect(report.passed).toBe(9);
    expect(report.suite).toBe('client');
  });

  it('passes level full with no failure: adds WIRE-3/4/5/10, TASK-10, CONN-6 and the backoff bounds', { timeout: 90_000 }, async () => {
    const report = await runClientSuite({ command: tsNode('specs/fixtures/clients/switchboardClient.ts'), level: 'full', discoveryPort: await allocatePort(), cwd: ROOT, timings: FIXTURE_TIMINGS });
    expect(report.failed, explain(report)).toBe(0);
    expect(report.notApplicable, explain(report)).toBe(0);
    expect(report.checks.length).toBe(clientChecks().length);
  });
});

describe('client suite against broken clients (specs/fixtures/brokenClients)', () => {
  const cases = [
    { file: 'neverResends', requirement: 'TASK-3', only: ['client.assign.resend'], failing: ['client.assign.resendSameTask'] },
    { file: 'newTaskIdOnResend', requirement: 'TASK-3', only: ['client.assign.resend'], failing: ['client.assign.resendSameTask', 'client.assign.resendSameMessageId'] },
    { file: 'tightReconnect', requirement: 'CONN-4', only: ['client.reconnect'], failing: ['client.reconnect.noHammering', 'client.reconnect.backoffBounds'] },
    { file: 'neverPings', requirement: 'CONN-3', only: ['client.ping'], failing: ['client.ping.sent'] },
    { file: 'noCallbackClientId', requirement: 'TASK-1', only: ['client.discovery', 'client.connect', 'client.assign.fields'], failing: ['client.assign.fields'] },
  ] as const;

  for (const { file, requirement, only, failing } of cases) {
    it(`${requirement}: fails ${file}, and every failing check cites ${requirement}`, { timeout: 40_000 }, async () => {
      const report = await runClientSuite({ command: tsNode(`specs/fixtures/brokenClients/${file}.ts`), level: 'full', only, discoveryPort: await allocatePort(), cwd: ROOT, timings: FIXTURE_TIMINGS });
      expect(failures(report).map((check) => check.name).sort(), explain(report)).toEqual([...failing].sort());
      for (const check of failures(report)) expect(check.requirements).toContain(requirement);
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
    expect(report.passed).toBe(5);
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

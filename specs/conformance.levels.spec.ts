/**
 * Core means the same thing in docs/protocol.md and in the conformance suite, both ways: every
 * core check cites only requirements the protocol's level table puts at core; every core
 * requirement is checked by a core check, or is named here as one black-box testing cannot see
 * (with the reason, which docs/conformance.md repeats); every core check quotes the seed sentence
 * it enforces; every full-only requirement is left to full checks.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clientChecks } from '../runtime/conformance/client/index.js';
import { providerChecks } from '../runtime/conformance/provider/index.js';

const protocol = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');
const conformanceDoc = readFileSync(new URL('../docs/conformance.md', import.meta.url), 'utf8');

function idsOfRow(label: string): Set<string> {
  const row = protocol.split('\n').find((line) => line.startsWith(`| ${label} |`));
  if (row === undefined) throw new Error(`docs/protocol.md has no "| ${label} |" row in its level table`);
  return new Set(row.match(/[A-Z]+-\d+/g) ?? []);
}

/** Core requirements no core check can observe from outside, and why (docs/conformance.md says the same). */
export const NOT_OBSERVABLE: Readonly<Record<string, string>> = {
  'DISC-1': "address reuse on the host's discovery port: the suites give their peers ports of their own",
  'DISC-8': "the client's repository entries are internal state",
  'DISC-9': "expiry takes 3 heartbeats, and the client's repository is internal state",
  'DISC-12': "a dropped datagram leaves no trace outside the client",
  'DISC-13': 'selection finding nothing fails locally, without a message',
  'CONN-5': "the outbox's bound and order need many tasks and reconnects",
  'TASK-5': "the ledger's bound needs ledgerMax (10 000) finished tasks",
  'TASK-15': 'the suite cannot make an operation throw on purpose',
  'TASK-16': "the client's terminal state is internal",
  'SEC-1': 'wss:// is a deployment choice, not a behaviour',
};

const checks = [...providerChecks, ...clientChecks()];
const core = idsOfRow('core');
const fullOnly = idsOfRow('full (in addition)');

describe('conformance levels agree with docs/protocol.md', () => {
  it('the level table is the one the suite reads', () => {
    expect(core.size).toBeGreaterThan(30);
    expect([...core].filter((id) => fullOnly.has(id))).toEqual([]);
  });

  it('every core check cites only core requirements', () => {
    const offending = checks.filter((check) => check.level === 'core').flatMap((check) => check.requirements.filter((id) => !core.has(id)).map((id) => `${check.name} cites ${id}`));
    expect(offending).toEqual([]);
  });

  it('every core requirement is checked by a core check, or is named as one black-box testing cannot see', () => {
    const cited = new Set(checks.filter((check) => check.level === 'core').flatMap((check) => check.requirements));
    const unchecked = [...core].filter((id) => !cited.has(id) && NOT_OBSERVABLE[id] === undefined);
    expect(unchecked).toEqual([]);
    const needlessly = Object.keys(NOT_OBSERVABLE).filter((id) => cited.has(id) || !core.has(id));
    expect(needlessly).toEqual([]);
  });

  it('docs/conformance.md lists every requirement the suite cannot see', () => {
    for (const id of Object.keys(NOT_OBSERVABLE)) expect(conformanceDoc, id).toMatch(new RegExp(`\\| ${id} \\|`));
  });

  it("every core check quotes the seed's sentence it enforces, and only core checks do", () => {
    expect(checks.filter((check) => check.level === 'core' && check.seed === undefined).map((check) => check.name)).toEqual([]);
    expect(checks.filter((check) => check.level === 'full' && check.seed !== undefined).map((check) => check.name)).toEqual([]);
  });

  it('every check cites at least one requirement that exists', () => {
    const all = new Set([...core, ...fullOnly]);
    expect(checks.flatMap((check) => check.requirements.filter((id) => !all.has(id)).map((id) => `${check.name}: ${id}`))).toEqual([]);
    expect(checks.filter((check) => check.requirements.length === 0)).toEqual([]);
  });
});

/**
 * SEC-15 at full scale (slow tier): 2,000 idle anonymous WebSockets from 100 hosts against a
 * provider with the default limits (1,024 sessions, 256 anonymous); a key holder still completes
 * 100 tasks. The fast tier runs the same attack against smaller limits (security.bounds.spec.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { idleFlood } from './support/idleFlood.js';
import { stopTracked } from './support/processes.js';
import { note } from './support/notes.js';

afterAll(async () => {
  await stopTracked();
});

describe('SEC-15: idle anonymous sockets cannot lock out key holders (default limits)', () => {
  it('2,000 idle anonymous WebSockets from 100 hosts; a client with a key completes 100 tasks', async () => {
    const outcome = await idleFlood('Anon', { providerArgs: [], anonymousMax: 256, hosts: 100, socketsPerHost: 20, tasks: 100 });
    expect(outcome.open).toBeGreaterThan(100);
    note(`SEC-15: ${outcome.open} of ${outcome.sockets} anonymous sockets admitted; 100 tasks of the key holder in ${outcome.elapsedMs} ms`);
  }, 90_000);
});

/**
 * The package's entry points resolve by name from the build in dist/ (the slow tier builds it
 * first with `tsc -b`; `npm pack` with `prepack`), with the API each promises. In the slow tier
 * because it needs the build: the fast tier runs from the sources while `tsc -b` runs beside it.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('package exports', () => {
  it('is built to dist/', () => {
    expect(existsSync(new URL('../dist/runtime/index.js', import.meta.url))).toBe(true);
  });

  it('switchboard: the library API', async () => {
    const root = await import('switchboard');
    for (const name of ['defineService', 'createProvider', 'createClient', 'TaskError', 'ProtocolError', 'composeProvider', 'composeClient']) {
      expect(root, name).toHaveProperty(name);
    }
  });

  it('switchboard/machines: the pure machines and wire schemas', async () => {
    const machines = await import('switchboard/machines');
    for (const name of ['providerMachine', 'clientMachine', 'sessionMachine', 'connectionMachine', 'repositoryMachine', 'repositoryEntryMachine', 'providerTaskMachine', 'clientTaskMachine', 'decodeFrame', 'encodeFrame', 'AssignTaskSchema', 'ERROR_CODES']) {
      expect(machines, name).toHaveProperty(name);
    }
  });

  it('switchboard/adapters: UDP, WebSocket and the simulated network', async () => {
    const adapters = await import('switchboard/adapters');
    for (const name of ['udpDiscovery', 'wsServer', 'wsConnect', 'SimulatedNetwork', 'advanceClock']) {
      expect(adapters, name).toHaveProperty(name);
    }
  });

  it('switchboard/simulate and the package root export simulate', async () => {
    const entry = await import('switchboard/simulate');
    for (const name of ['simulate', 'check', 'planRun', 'parseScenario', 'scenarioJsonSchema', 'INVARIANTS']) expect(entry, name).toHaveProperty(name);
    expect(typeof (await import('switchboard')).simulate).toBe('function');
  });
});

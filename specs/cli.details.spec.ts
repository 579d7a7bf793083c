/**
 * The CLI details a new user trips over, each fixed and held here: `--param x=2024` read by the
 * advertised schema, required parameters checked before sending, INVALID_PARAMETERS details
 * printed once, the provider's status printed on change only, `switchboard types`. The commands
 * run in this process (`main(argv, io)`) against a real provider on loopback (real UDP discovery
 * on a port of this file's, broadcast on 127.255.255.255, real WebSocket).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { Capability } from '../machines/capabilities.js';
import { main } from '../runtime/cli.js';
import { declarationOf, paramPairs, parameterProblems, paramsByDeclaration, paramValue } from '../runtime/cli/paramsBySchema.js';
import { reporter } from '../runtime/cli/provider.js';
import { createProvider, type Provider } from '../runtime/provider.js';
import { capabilitiesOf, defineService } from '../runtime/service.js';
import { allocatePort } from './support/ports.js';

const received: unknown[] = [];

const echo = defineService({
  name: 'Echo',
  version: '2.0.0',
  operations: {
    echo: {
      description: 'Returns its parameters.',
      params: z.object({ name: z.string().min(1), year: z.string().optional(), count: z.number().int().optional(), loud: z.boolean().optional() }),
      run: async (params) => {
        received.push(params);
        return params;
      },
    },
  },
});

function capture() {
  const out = { stdout: '', stderr: '' };
  const io = { stdout: { write: (text: string) => ((out.stdout += text), true) }, stderr: { write: (text: string) => ((out.stderr += text), true) } };
  return { out, io };
}

let discoveryPort = 0;
let provider: Provider;

async function cli(...args: string[]) {
  const { out, io } = capture();
  const code = await main(['node', 'switchboard', ...args, '--discovery-port', String(discoveryPort), '--broadcast', '127.255.255.255'], io);
  return { code, ...out };
}

beforeAll(async () => {
  discoveryPort = await allocatePort();
  provider = createProvider({
    services: [echo],
    host: '127.0.0.1',
    discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] },
    log: () => {},
  });
  await provider.start();
});

afterAll(async () => {
  await provider.stop();
});

describe('assign reads --param by the advertised schema', () => {
  it('`year=2024` is the string "2024" where year is a string, `count=7` the number where count is one', async () => {
    received.length = 0;
    const result = await cli('assign', 'Echo', 'echo', '--param', 'name=Ada', '--param', 'year=2024', '--param', 'count=7', '--param', 'loud=true', '--json');
    expect(result.code).toBe(0);
    expect(received).toEqual([{ name: 'Ada', year: '2024', count: 7, loud: true }]);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'Completed', resultData: { name: 'Ada', year: '2024', count: 7, loud: true } });
  });

  it('missing required parameters and wrong types fail with INVALID_PARAMETERS listing each, before anything is sent', async () => {
    received.length = 0;
    let sessions = 0;
    const unsubscribe = provider.on('session.opened', () => void sessions++);
    const result = await cli('assign', 'Echo', 'echo', '--param', 'count=many', '--param', 'year=2024');
    unsubscribe();
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error INVALID_PARAMETERS: invalid parameters for echo: missing required parameter: name; count: expected integer, got string/m);
    expect(received).toEqual([]);
    expect(sessions).toBe(0);
  });

  it("the provider's INVALID_PARAMETERS prints its details once", async () => {
    const result = await cli('assign', 'Echo', 'echo', '--param', 'name=');
    expect(result.code).toBe(1);
    const errorLine = result.stderr.split('\n').find((text) => text.startsWith('error INVALID_PARAMETERS'));
    expect(errorLine).toBeDefined();
    expect(errorLine!.match(/name: Too small/g)).toHaveLength(1);
  });

  it('an operation the service lacks is UNKNOWN_OPERATION naming what it offers', async () => {
    const result = await cli('assign', 'Echo', 'ehco', '--param', 'name=Ada');
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^error UNKNOWN_OPERATION: Echo has no operation "ehco" \(it offers: echo\)$/m);
  });
});

describe('switchboard types', () => {
  it('prints the contract of a service on the network', async () => {
    const result = await cli('types', 'Echo');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('export type EchoEchoParams = {');
    expect(result.stdout).toContain('  year?: string;');
    expect(result.stdout).toMatch(/\/\*\* Returns its parameters\. \*\/\n {2}echo: \{ params: EchoEchoParams; result: EchoEchoResult; errors: never \};/);
  });

  it('exits 3 with SERVICE_UNAVAILABLE when nobody offers the service', async () => {
    const result = await cli('types', 'Nobody', '--timeout-ms', '300');
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^error SERVICE_UNAVAILABLE: no provider offers Nobody/m);
    expect(result.stdout).toBe('');
  });
});

describe('paramsBySchema', () => {
  const [capability] = capabilitiesOf(
    defineService({
      name: 'T',
      version: '1',
      operations: {
        op: {
          params: z.object({
            text: z.string(),
            num: z.number(),
            int: z.number().int(),
            flag: z.boolean(),
            maybe: z.string().nullable(),
            choice: z.enum(['1', '2']),
            either: z.union([z.number(), z.string()]),
            list: z.array(z.number()),
            free: z.any(),
          }),
          run: () => null,
        },
      },
    }),
  ) as [Capability];
  const declaration = declarationOf(capability);
  const read = (key: string, text: string) => paramValue(text, declaration.types.get(key));

  it('reads each value as the declared type admits', () => {
    expect(read('text', '2024')).toBe('2024');
    expect(read('text', 'true')).toBe('true');
    expect(read('text', '{not json')).toBe('{not json');
    expect(read('num', '2.5')).toBe(2.5);
    expect(read('int', '2024')).toBe(2024);
    expect(read('flag', 'false')).toBe(false);
    expect(read('maybe', 'null')).toBeNull();
    expect(read('maybe', '12')).toBe('12');
    expect(read('choice', '1')).toBe('1');
    expect(read('either', '12')).toBe(12);
    expect(read('either', 'twelve')).toBe('twelve');
    expect(read('list', '[1,2]')).toEqual([1, 2]);
    // Nothing declared: the guess.
    expect(read('free', '12')).toBe(12);
    expect(read('undeclared', 'x')).toBe('x');
  });

  it('falls back to the seed settings when there is no schema', () => {
    const seed = declarationOf({ key: 'resize', settings: [{ type: 'string', name: 'path' }, { type: 'int', name: 'width' }, { type: 'path', name: 'other' }] });
    expect(paramValue('2024', seed.types.get('path'))).toBe('2024');
    expect(paramValue('320', seed.types.get('width'))).toBe(320);
    expect(seed.types.has('other')).toBe(false);
    expect(seed.required).toEqual([]);
  });

  it('lists every problem: missing required first, then wrong types', () => {
    const params = paramsByDeclaration({ list: [1] }, paramPairs(['int=1.5', 'flag=yes']), declaration);
    expect(parameterProblems(params, declaration)).toEqual([
      'missing required parameters: text, num, maybe, choice, either',
      'int: expected integer, got number',
      'flag: expected boolean, got string',
    ]);
  });

  it('refuses a --param without key=value as a usage error', () => {
    expect(() => paramPairs(['novalue'])).toThrow(/key=value/);
    expect(() => paramPairs(['=x'])).toThrow(/key=value/);
    expect(paramPairs(['a=b=c'])).toEqual([['a', 'b=c']]);
  });
});

describe('the provider command', () => {
  it('prints the status when it changes, not with every heartbeat', () => {
    const { out, io } = capture();
    const report = reporter(io, false);
    report({ type: 'provider.status', status: 'Online' });
    report({ type: 'provider.listening', endpoint: 'ws://127.0.0.1:1' } as never);
    for (const status of ['Online', 'Online', 'Busy', 'Busy', 'Online', 'Draining', 'Offline'] as const) report({ type: 'provider.status', status });
    expect(out.stdout).toBe('status Busy\nstatus Online\nstatus Draining\nstatus Offline\n');
  });
});

/**
 * SEC-4: authorisation as data (runtime/acl.ts). The policy alone (first matching rule decides,
 * else the default; principals, groups, anonymous, name prefixes; a malformed file is refused
 * with a readable reason), then on real sockets: a provider loaded with a policy file answers a
 * refused AssignTask with TaskFailed FORBIDDEN, runs nothing, records nothing, and runs what is
 * allowed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { authorize, loadAcl, parseAcl, type Acl } from '../runtime/acl.js';
import { createProvider, type Provider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { payloadOf, rawSession, type Json } from './support/rawSession.js';
import { freeDiscoveryPort } from './support/udpPort.js';

const policy: Acl = parseAcl({
  default: 'deny',
  rules: [
    { effect: 'deny', who: ['key:intern'], operations: ['delete*'] },
    { effect: 'allow', who: ['group:ops'] },
    { effect: 'allow', who: ['*'], services: ['Files'], operations: ['read', 'list'] },
    { effect: 'allow', who: ['anonymous'], services: ['Public'] },
    { effect: 'allow', who: ['key:robot'], clientIds: ['robot-*'] },
  ],
});

const request = (principal: string | undefined, serviceName: string, operation: string, extra: { groups?: string[]; clientId?: string } = {}) => ({
  principal,
  groups: extra.groups,
  clientId: extra.clientId ?? 'c1',
  serviceName,
  operation,
});

describe('authorize (the policy alone)', () => {
  it.each([
    ['a denied operation of a denied principal, before any allow', request('key:intern', 'Files', 'deleteAll', { groups: ['ops'] }), false, 0],
    ['a group allowed everything', request('key:intern', 'Files', 'write', { groups: ['ops'] }), true, 1],
    ['everyone may read', request('key:guest', 'Files', 'read'), true, 2],
    ['but not write', request('key:guest', 'Files', 'write'), false, undefined],
    ['anonymous sessions are named anonymous', request(undefined, 'Public', 'anything'), true, 3],
    ['and are not `*`-less principals', request(undefined, 'Private', 'x'), false, undefined],
    ['clientId prefixes', request('key:robot', 'Any', 'x', { clientId: 'robot-7' }), true, 4],
    ['other clientIds of that key', request('key:robot', 'Any', 'x', { clientId: 'human-1' }), false, undefined],
  ])('%s', (_what, input, allowed, rule) => {
    expect(authorize(policy, input)).toEqual({ allowed, rule });
  });

  it('an empty policy denies by default, or allows when told', () => {
    expect(authorize(parseAcl({}), request('key:a', 'S', 'o')).allowed).toBe(false);
    expect(authorize(parseAcl({ default: 'allow' }), request('key:a', 'S', 'o')).allowed).toBe(true);
  });

  it('property: a prototype name anywhere in the request is just a name (and is denied by a deny-all policy)', () => {
    const names = fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf');
    fc.assert(
      fc.property(names, names, names, names, (principal, group, service, operation) => {
        const decision = authorize(parseAcl({ default: 'deny', rules: [{ effect: 'allow', who: ['key:x'] }] }), request(principal, service, operation, { groups: [group], clientId: principal }));
        return decision.allowed === false;
      }),
      { seed: 4 },
    );
  });

  it('a malformed policy is refused with a reason a person can act on', () => {
    expect(() => parseAcl({ rules: [{ effect: 'permit' }] })).toThrow(/invalid ACL: rules\.0\.effect/);
    expect(() => parseAcl({ rules: [{ effect: 'allow', who: 'key:a' }] })).toThrow(/rules\.0\.who/);
    expect(() => parseAcl({ rules: [], extra: 1 })).toThrow(/invalid ACL/);
  });
});

describe('a provider with a policy file (SEC-4, real sockets)', () => {
  let dir: string;
  let provider: Provider;
  let endpoint: string;
  const ran: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'switchboard-acl-'));
    const file = path.join(dir, 'acl.json');
    await writeFile(
      file,
      JSON.stringify({
        default: 'deny',
        rules: [
          { effect: 'deny', who: ['key:intern'], operations: ['delete'] },
          { effect: 'allow', who: ['*'], services: ['Files'] },
        ],
      }),
    );
    const operation = (name: string) => ({
      params: z.object({}),
      run: (_params: unknown, ctx: { taskId: string }) => {
        ran.push(`${name}:${ctx.taskId}`);
        return { name };
      },
    });
    const files = defineService({ name: 'Files', version: '1', operations: { read: operation('read'), delete: operation('delete') } });
    const admin = defineService({ name: 'Admin', version: '1', operations: { reboot: operation('reboot') } });
    provider = createProvider({
      services: [files, admin],
      host: '127.0.0.1',
      discovery: { port: await freeDiscoveryPort(), broadcastAddresses: ['127.255.255.255'] },
      auth: { keys: [{ name: 'intern', key: 'intern-key-123456' }] },
      acl: await loadAcl(file),
    });
    ({ endpoint } = await provider.start());
  });

  afterAll(async () => {
    await provider.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const assign = (serviceName: string, operation: string, taskId: string): Json => ({
    type: 'AssignTask',
    messageId: `m-${taskId}`,
    timestamp: new Date().toISOString(),
    payload: { taskId, serviceName, operation, taskParameters: {}, callbackClientId: 'intern-client' },
  });

  it('refused: TaskFailed FORBIDDEN, no Ack, nothing runs, nothing is recorded; allowed: runs', async () => {
    const session = await rawSession(endpoint, { headers: { authorization: 'Bearer intern-key-123456' } });
    try {
      for (const [service, operation, taskId] of [
        ['Files', 'delete', 'd1'],
        ['Admin', 'reboot', 'r1'],
      ] as const) {
        session.send(assign(service, operation, taskId));
        const failed = await session.expectFrame((f) => f.type === 'TaskFailed' && payloadOf(f).taskId === taskId, `the refusal of ${taskId}`);
        expect(payloadOf(failed)).toMatchObject({ status: 'Failed', errorCode: 'FORBIDDEN', errorMessage: `not allowed to run ${service}.${operation} (SEC-4)` });
      }
      session.send(assign('Files', 'read', 'ok1'));
      const result = await session.expectFrame((f) => f.type === 'TaskResult', 'the allowed result');
      expect(payloadOf(result)).toMatchObject({ taskId: 'ok1', resultData: { name: 'read' } });
      // The refusals were not recorded: the provider knows no such tasks.
      session.send({ type: 'GetStatus', messageId: 'q-d1', timestamp: new Date().toISOString(), payload: { taskId: 'd1', originalClientId: 'intern-client' } });
      expect(payloadOf(await session.expectFrame((f) => payloadOf(f).relatesTo === 'q-d1', 'the status of d1')).code).toBe('TASK_NOT_FOUND');
      // No Ack for a refusal; the allowed task's Ack may have been coalesced with its result (TASK-2).
      expect(session.frames.filter((f) => f.type === 'Ack').map((f) => payloadOf(f).taskId).filter((taskId) => taskId !== 'ok1')).toEqual([]);
      expect(ran).toEqual(['read:ok1']);
    } finally {
      session.close();
    }
  });
});

/**
 * Durable outcomes (JetStream KV): a client whose task finished while it was away, and whose
 * provider then restarted under the same listener name, still gets its result. Without durable
 * outcomes the same sequence ends in TASK_NOT_FOUND (TASK-17), which is what the feature is for.
 */
import { describe, expect, it } from 'vitest';
import { natsHost } from '../adapters/nats.js';
import type { WireDraft } from '../machines/messages.js';
import type { StreamCommand } from '../machines/transport.js';
import { createProvider } from '../runtime/provider.js';
import { greeter, natsSuite, runTransport, uniquePrefix, type Harness } from './support/natsFixtures.js';
import { NATS_SERVER_MISSING } from './support/natsServer.js';
import { until } from './support/processes.js';

const describeNats = NATS_SERVER_MISSING === undefined ? describe : describe.skip;
if (NATS_SERVER_MISSING !== undefined) console.warn(`nats.durable.spec.ts skipped: ${NATS_SERVER_MISSING}`);

const suite = natsSuite({ jetstream: true });

const CLIENT = 'client-durable';

async function open(prefix: string, endpoint: string): Promise<Harness<StreamCommand>> {
  const end = runTransport(natsHost({ servers: suite.node().url, subjectPrefix: prefix }).connect(), { endpoint });
  await until(() => end.of('transport.opened').length > 0, 'opened', 5_000);
  return end;
}

const messagesOf = (end: Harness<StreamCommand>) => end.of('transport.message').map((event) => event.message as { type: string; payload: Record<string, unknown> });

/** Assigns a task, sees it accepted, goes away before it finishes; the provider restarts; asks again. */
async function restartScenario(durableOutcomes: boolean): Promise<{ type: string; payload: Record<string, unknown> }> {
  const prefix = uniquePrefix();
  const nats = { servers: suite.node().url, subjectPrefix: prefix, name: 'durable-provider', durableOutcomes };
  const first = createProvider({ services: [greeter], lan: false, nats });
  const settled = new Promise<void>((resolve) => first.on('task.settled', () => resolve()));
  const { endpoint } = await first.start();

  const away = await open(prefix, endpoint);
  const assign: WireDraft = {
    type: 'AssignTask',
    messageId: 'assign-1',
    payload: { taskId: 'task-1', serviceName: 'Greeter', operation: 'greet', taskParameters: { name: 'kept', delayMs: 300 }, callbackClientId: CLIENT },
  };
  away.send({ type: 'transport.send', draft: assign });
  await until(() => messagesOf(away).some((m) => m.type === 'Ack'), 'Ack', 5_000);
  away.stop(); // the client goes away before the result
  await settled; // ... and the task completes meanwhile
  await first.stop();

  const second = createProvider({ services: [greeter], lan: false, nats });
  try {
    expect((await second.start()).endpoint).toBe(endpoint);
    const back = await open(prefix, endpoint);
    back.send({ type: 'transport.send', draft: { type: 'GetResult', messageId: 'ask-1', payload: { taskId: 'task-1', originalClientId: CLIENT } } });
    await until(() => messagesOf(back).length > 0, 'an answer to GetResult', 5_000);
    back.stop();
    return messagesOf(back)[0]!;
  } finally {
    await second.stop();
  }
}

describeNats('durable outcomes in JetStream', () => {
  it('after a provider restart, GetResult returns the stored TaskResult', async () => {
    const answer = await restartScenario(true);
    expect(answer).toMatchObject({ type: 'TaskResult', payload: { taskId: 'task-1', status: 'Completed', resultData: { hello: 'kept' }, originalClientId: CLIENT } });
  });

  it('without durable outcomes the same sequence ends in TASK_NOT_FOUND', async () => {
    const answer = await restartScenario(false);
    expect(answer).toMatchObject({ type: 'Error', payload: { code: 'TASK_NOT_FOUND', relatesTo: 'ask-1' } });
  });

  it('another clientId cannot read a stored outcome (the session acts for one clientId, CONN-9)', async () => {
    const prefix = uniquePrefix();
    const nats = { servers: suite.node().url, subjectPrefix: prefix, name: 'durable-acl', durableOutcomes: true };
    const provider = createProvider({ services: [greeter], lan: false, nats });
    const { endpoint } = await provider.start();
    try {
      const owner = await open(prefix, endpoint);
      owner.send({
        type: 'transport.send',
        draft: { type: 'AssignTask', messageId: 'a', payload: { taskId: 'secret', serviceName: 'Greeter', operation: 'greet', taskParameters: { name: 's' }, callbackClientId: 'owner' } },
      });
      await until(() => messagesOf(owner).some((m) => m.type === 'TaskResult'), 'result', 5_000);
      owner.stop();
      const other = await open(prefix, endpoint);
      other.send({ type: 'transport.send', draft: { type: 'GetResult', messageId: 'q', payload: { taskId: 'secret', originalClientId: 'intruder' } } });
      await until(() => messagesOf(other).length > 0, 'an answer', 5_000);
      expect(messagesOf(other)[0]).toMatchObject({ type: 'Error', payload: { code: 'TASK_NOT_FOUND' } });
      other.stop();
    } finally {
      await provider.stop();
    }
  });
});

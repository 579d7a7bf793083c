/**
 * CPU time per task of each side's stack alone, in one process, without sockets: a real client
 * (createClient) whose connection transport answers every AssignTask at once with an Ack and a
 * TaskResult, and a real provider (createProvider) fed AssignTasks by a fake accepted
 * connection, its replies swallowed. What is left is the statecharts, the runtime and the
 * bookkeeping: the part of a task's cost this project controls, measured without the noise of
 * sockets and of other processes. Not part of `npm run bench`.
 *
 *   node --import tsx bench/stack.ts [--tasks 20000] [--in-flight 256] [--side client|provider|both] [--no-build]
 *   SWITCHBOARD_INTERPRETER=xstate node --import tsx bench/stack.ts     (XState's interpreter, an actor per task)
 */
import { fromCallback, type EventObject } from 'xstate';
import type { DiscoveryMessage, WireDraft, WireMessage } from '../machines/messages.js';
import type { StreamCommand } from '../machines/transport.js';
import type { TransportHost } from '../runtime/compose.js';
import { buildForBench } from './build.js';
import { argOf, hasFlag, hrtimeUs, numberArg } from './common.js';
import { cpuNowUs } from './cpu.js';
import * as z from 'zod';

// What tsc emits (bench/.build, rebuilt unless --no-build), as `npm run bench` measures;
// SWITCHBOARD_SOURCE=ts measures the sources under tsx.
const fromSource = process.env.SWITCHBOARD_SOURCE === 'ts';
if (!fromSource && !hasFlag('no-build')) buildForBench((text) => process.stderr.write(`${text}\n`));
const { createClient, createProvider, defineService } = (await import(fromSource ? '../runtime/index.js' : './.build/runtime/index.js')) as typeof import('../runtime/index.js');

const tasks = numberArg('tasks', 20_000);
const inFlight = numberArg('in-flight', 256);
const side = argOf('side', 'both');

let ids = 0;
const stamp = (draft: WireDraft): WireMessage => ({ ...draft, messageId: draft.messageId ?? `m${ids++}`, timestamp: 1_750_000_000_000 }) as WireMessage;
const noDiscovery = () => fromCallback(() => () => {});

async function clientStack(): Promise<number> {
  const advertisement: DiscoveryMessage = {
    discoveryType: 'ServiceAdvertisement',
    serviceId: 's1',
    serviceName: 'Bench',
    serviceVersion: '1.0.0',
    endpoint: 'ws://127.0.0.1:1',
    capabilities: [{ key: 'echo', settings: [] }],
    status: 'Online',
    load: 0,
    timestamp: 1_750_000_000_000,
  };
  const host: TransportHost = {
    discovery: () =>
      fromCallback(({ sendBack }) => {
        sendBack({ type: 'datagram.received', message: advertisement, from: { host: '127.0.0.1', port: 1 } });
        return () => {};
      }) as never,
    server: () => {
      throw new Error('client host');
    },
    accepted: () => {
      throw new Error('client host');
    },
    connect: () =>
      fromCallback<StreamCommand>(({ sendBack, receive }) => {
        queueMicrotask(() => sendBack({ type: 'transport.opened' }));
        receive((command) => {
          if (command.type !== 'transport.send' || command.draft.type !== 'AssignTask') return;
          const { messageId, payload } = stamp(command.draft) as Extract<WireMessage, { type: 'AssignTask' }>;
          // The provider's answers arrive in a later turn, as from a socket.
          setImmediate(() => {
            sendBack({ type: 'transport.message', message: stamp({ type: 'Ack', payload: { acknowledgmentId: messageId, taskId: payload.taskId, status: 'Processing' } }) });
            sendBack({ type: 'transport.message', message: stamp({ type: 'TaskResult', payload: { taskId: payload.taskId, status: 'Completed', resultData: { ok: true } } }) });
          });
        });
        return () => {};
      }) as never,
  };
  // The fake advertisement is unsigned (SEC-8: a client believes it only when told to).
  const client = createClient({ network: host, trust: { allowUnsigned: true } });
  await client.waitFor('Bench');
  const run = async (count: number) => {
    let next = 0;
    const worker = async () => {
      while (next < count) {
        next++;
        await client.assign('Bench', 'echo', {}).result;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  };
  await run(Math.min(5_000, tasks));
  const startUs = hrtimeUs();
  const cpu = cpuNowUs();
  await run(tasks);
  const perTask = (cpuNowUs() - cpu) / tasks;
  console.error(`client window: --start-us ${startUs} --end-us ${hrtimeUs()} --tasks ${tasks}`);
  await client.stop();
  return perTask;
}

async function providerStack(): Promise<number> {
  const service = defineService({ name: 'Bench', version: '1.0.0', operations: { echo: { params: z.object({}), run: () => ({ ok: true }) } } });
  let feed: ((event: EventObject) => void) | undefined;
  let finals = 0;
  let onFinal: (() => void) | undefined;
  const host: TransportHost = {
    discovery: noDiscovery as never,
    server: () =>
      fromCallback(({ sendBack }) => {
        sendBack({ type: 'server.listening', endpoint: 'ws://127.0.0.1:1' });
        queueMicrotask(() => sendBack({ type: 'server.accepted', connectionId: 'k1', remoteAddress: '127.0.0.1' }));
        return () => {};
      }) as never,
    accepted: () =>
      fromCallback<StreamCommand>(({ sendBack, receive }) => {
        feed = sendBack;
        receive((command) => {
          if (command.type === 'transport.send' && (command.draft.type === 'TaskResult' || command.draft.type === 'TaskFailed')) {
            finals++;
            onFinal?.();
          }
        });
        return () => {};
      }) as never,
    connect: () => {
      throw new Error('provider host');
    },
  };
  const provider = createProvider({ services: [service], network: host, limits: { tasksRunningMax: 4_096, tasksRunningPerClientMax: 4_096 } });
  await provider.start();
  while (feed === undefined) await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 10));
  const send = feed;
  const run = (count: number) =>
    new Promise<void>((resolve) => {
      let sent = 0;
      const target = finals + count;
      const assignOne = () => {
        const taskId = `t${ids++}`;
        sent++;
        send({
          type: 'transport.message',
          message: stamp({ type: 'AssignTask', payload: { taskId, serviceName: 'Bench', operation: 'echo', taskParameters: {}, callbackClientId: 'c1' } }),
        } as EventObject);
      };
      onFinal = () => {
        if (finals >= target) {
          onFinal = undefined;
          resolve();
        } else if (sent < count) setImmediate(assignOne);
      };
      for (let i = 0; i < Math.min(inFlight, count); i++) assignOne();
    });
  await run(Math.min(5_000, tasks));
  const startUs = hrtimeUs();
  const cpu = cpuNowUs();
  await run(tasks);
  const perTask = (cpuNowUs() - cpu) / tasks;
  console.error(`provider window: --start-us ${startUs} --end-us ${hrtimeUs()} --tasks ${tasks}`);
  await provider.stop();
  return perTask;
}

const interpreter = process.env.SWITCHBOARD_INTERPRETER ?? 'engine';
if (side !== 'provider') console.log(`client stack:   ${(await clientStack()).toFixed(1)} us CPU per task (${interpreter}, ${inFlight} in flight, ${tasks} tasks)`);
if (side !== 'client') console.log(`provider stack: ${(await providerStack()).toFixed(1)} us CPU per task (${interpreter}, ${inFlight} in flight, ${tasks} tasks)`);
process.exit(0);

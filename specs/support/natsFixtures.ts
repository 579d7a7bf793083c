/**
 * Shared pieces of the NATS specs: a test service, a harness that runs one transport logic under a
 * recording parent machine, and a unique subject prefix per test (deployments scoped by prefix).
 */
import { createSocket } from 'node:dgram';
import * as z from 'zod';
import { createActor, sendTo, setup, type AnyEventObject, type CallbackActorLogic, type EventObject } from 'xstate';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { defineService } from '../../runtime/service.js';
import { NATS_SERVER_MISSING, startNatsNode, type NatsNode, type NatsNodeOptions } from './natsServer.js';

let prefixes = 0;
/** A subject prefix no other test (or concurrent run) uses. */
export function uniquePrefix(): string {
  return `sbtest.p${process.pid}x${++prefixes}x${Math.floor(Math.random() * 1e6)}`;
}

export const greeter = defineService({
  name: 'Greeter',
  version: '1.0.0',
  operations: {
    greet: {
      params: z.object({ name: z.string(), delayMs: z.number().int().min(0).max(60_000).optional() }),
      run: async ({ name, delayMs }, ctx) => {
        if (delayMs !== undefined && delayMs > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delayMs);
            ctx.signal.addEventListener('abort', () => {
              clearTimeout(timer);
              resolve();
            });
          });
        }
        ctx.progress(50, 'half way');
        return { hello: name };
      },
    },
    fail: {
      params: z.object({}),
      run: async () => {
        throw Object.assign(new Error('asked to fail'), { code: 'ASKED_TO_FAIL' });
      },
    },
  },
});

export interface Harness<TCommand extends EventObject> {
  readonly events: AnyEventObject[];
  of(type: string): AnyEventObject[];
  send(command: TCommand): void;
  stop(): void;
}

const forwardCommand = sendTo('transport', ({ event }: { event: AnyEventObject }) => event.command as AnyEventObject);

/** Invokes `logic` as `transport` under a machine that records every event it sends back. */
export function runTransport<TCommand extends EventObject, TInput>(logic: CallbackActorLogic<TCommand, TInput>, input: TInput): Harness<TCommand> {
  const events: AnyEventObject[] = [];
  const machine = setup({
    types: { events: {} as AnyEventObject },
    actors: { transport: logic as unknown as CallbackActorLogic<AnyEventObject, unknown> },
  }).createMachine({
    invoke: { id: 'transport', src: 'transport', input: () => input },
    on: {
      'harness.command': { actions: forwardCommand },
      '*': { actions: ({ event }) => void events.push(event) },
    },
  });
  const actor = createActor(machine).start();
  return {
    events,
    of: (type) => events.filter((event) => event.type === type),
    send: (command) => actor.send({ type: 'harness.command', command }),
    stop: () => actor.stop(),
  };
}

/**
 * Stopping a provider or client with open connections makes XState warn that a child's
 * `xstate.done.actor.*` reached a parent already final: the child tells its parent it closed
 * (session.ended / connection.closed), the parent goes final on it, and the child's own done
 * event follows. The same happens over WebSocket (the machines' behaviour, not the transport's);
 * these specs drop exactly that warning so their output stays quiet, and nothing else.
 */
export function quietDoneAfterFinalWarnings(): () => void {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    const text = String(args[0] ?? '');
    if (/^Event "xstate\.done\.actor\.[^"]+" was sent to stopped actor/.test(text)) return;
    warn(...args);
  };
  return () => {
    console.warn = warn;
  };
}

/**
 * The usual frame of a NATS spec file: one nats-server for the file (when the binary exists),
 * cleanups run after each test in reverse order, XState's done-after-final warning quieted.
 */
export function natsSuite(options: NatsNodeOptions = {}): { node(): NatsNode; defer(cleanup: () => unknown): void } {
  let node: NatsNode | undefined;
  let loud: () => void = () => {};
  const cleanups: (() => unknown)[] = [];
  beforeAll(async () => {
    loud = quietDoneAfterFinalWarnings();
    if (NATS_SERVER_MISSING === undefined) node = await startNatsNode(options);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await node?.stop();
    loud();
  });
  return {
    node: () => {
      if (node === undefined) throw new Error('no nats-server for this suite');
      return node;
    },
    defer: (cleanup) => void cleanups.push(cleanup),
  };
}

/** A UDP discovery port in 20000-29999 that nothing is bound to now (CONTRACTS.md: bind-checked, never 50001). */
export async function freeUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const free = await new Promise<boolean>((resolve) => {
      const socket = createSocket({ type: 'udp4', reuseAddr: false });
      socket.once('error', () => {
        socket.close();
        resolve(false);
      });
      socket.bind({ port, address: '0.0.0.0', exclusive: true }, () => socket.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('freeUdpPort: no free UDP port in 20000-29999 after 50 tries');
}

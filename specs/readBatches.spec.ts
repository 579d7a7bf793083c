/**
 * Batched boundaries (machines/host/readBatches.ts): a socket read's frames delivered as one
 * `transport.batch` event leave a machine exactly where the same frames one by one would (state,
 * context, status, output, emitted events), on the engine and on XState's interpreter, and a
 * frame after the machine finished is not processed. A fast-check property over random frame
 * sequences cut into random batches.
 */
import fc from 'fast-check';
import { assign, createActor, emit, raise, setup, type AnyActorLogic, type AnyStateMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { hosted, isHosted } from '../machines/host/hostedMachine.js';
import { unfoldingReadBatches } from '../machines/host/readBatches.js';
import type { WireMessage } from '../machines/messages.js';
import type { StreamInput } from '../machines/transport.js';

type Frame = { kind: 'message'; word: 'Hello' | 'Work' | 'Bye' } | { kind: 'rejected' };

const inputOf = (frame: Frame): StreamInput =>
  frame.kind === 'rejected'
    ? { type: 'transport.rejected', error: { code: 'INVALID_MESSAGE', message: 'bad' } as never }
    : { type: 'transport.message', message: { type: frame.word, messageId: 'm', timestamp: 0, payload: {} } as unknown as WireMessage };

/** A receiver with states, guards, context, a raise and emits, that finishes on Bye. */
const receiver = setup({
  types: {
    context: {} as { seen: string[]; rejected: number; work: number },
    events: {} as StreamInput | { type: 'counted' },
    emitted: {} as { type: 'heard'; word: string },
  },
}).createMachine({
  id: 'receiver',
  context: { seen: [], rejected: 0, work: 0 },
  initial: 'greeting',
  states: {
    greeting: {
      on: {
        'transport.message': [
          { guard: ({ event }) => (event.message.type as string) === 'Hello', target: 'working', actions: assign({ seen: ({ context }) => [...context.seen, 'hello'] }) },
          { actions: assign({ seen: ({ context }) => [...context.seen, 'early'] }) },
        ],
      },
    },
    working: {
      on: {
        'transport.message': [
          { guard: ({ event }) => (event.message.type as string) === 'Bye', target: 'done' },
          {
            actions: [
              assign({ work: ({ context }) => context.work + 1 }),
              emit(({ event }) => ({ type: 'heard' as const, word: event.message.type })),
              raise({ type: 'counted' }),
            ],
          },
        ],
        counted: { actions: assign({ seen: ({ context }) => [...context.seen, `w${context.work}`] }) },
      },
    },
    done: { type: 'final' },
  },
  on: { 'transport.rejected': { actions: assign({ rejected: ({ context }) => context.rejected + 1 }) } },
  output: ({ context }) => ({ work: context.work, rejected: context.rejected }),
});

function feed(logic: AnyActorLogic, deliveries: StreamInput[][], batched: boolean) {
  const actor = createActor(logic);
  const heard: string[] = [];
  actor.on('heard', (event: { word: string }) => heard.push(event.word));
  actor.start();
  // A finished actor is sent nothing more (XState would warn); its transport stops with it.
  const active = () => actor.getSnapshot().status === 'active';
  for (const inputs of deliveries) {
    if (batched && inputs.length > 1) {
      if (active()) actor.send({ type: 'transport.batch', events: inputs } as never);
    } else for (const input of inputs) if (active()) actor.send(input as never);
  }
  const { value, context, status, output } = actor.getSnapshot() as { value: unknown; context: unknown; status: string; output: unknown };
  actor.stop();
  return { value, context, status, output, heard };
}

const frames = fc.array(
  fc.oneof(
    { weight: 1, arbitrary: fc.constant<Frame>({ kind: 'rejected' }) },
    { weight: 1, arbitrary: fc.constant<Frame>({ kind: 'message', word: 'Hello' }) },
    { weight: 4, arbitrary: fc.constant<Frame>({ kind: 'message', word: 'Work' }) },
    { weight: 1, arbitrary: fc.constant<Frame>({ kind: 'message', word: 'Bye' }) },
  ),
  { maxLength: 30 },
);
/** Frames cut into consecutive reads of 1 to 6 frames. */
const reads = fc.tuple(frames, fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 30, maxLength: 30 })).map(([all, sizes]) => {
  const out: StreamInput[][] = [];
  for (let at = 0, i = 0; at < all.length; i++) {
    const size = sizes[i % sizes.length]!;
    out.push(all.slice(at, at + size).map(inputOf));
    at += size;
  }
  return out;
});

describe('read batches unfold into the same frames one by one', () => {
  const logics: [string, AnyStateMachine][] = [
    ['engine', hosted(receiver)],
    ['interpreter', receiver],
  ];
  for (const [name, logic] of logics) {
    it(`${name}: a batch leaves the machine where its frames one by one do (property)`, () => {
      if (name === 'engine') expect(isHosted(logic)).toBe(true);
      const unfolding = unfoldingReadBatches(logic);
      fc.assert(
        fc.property(reads, (deliveries) => {
          expect(feed(unfolding, deliveries, true)).toEqual(feed(logic, deliveries, false));
        }),
        { numRuns: 200 },
      );
    });
  }

  it('frames after the machine finished are not processed', () => {
    const words = ['Hello', 'Work', 'Bye', 'Work'] as const;
    const batch = words.map((word) => inputOf({ kind: 'message', word }));
    const result = feed(unfoldingReadBatches(hosted(receiver)), [batch], true);
    expect(result.status).toBe('done');
    expect(result.output).toEqual({ work: 1, rejected: 0 });
    expect(result.heard).toEqual(['Work']);
  });

  it('keeps the logic it wraps: machine id and definition, other events passed through', () => {
    const unfolding = unfoldingReadBatches(hosted(receiver));
    expect(unfolding.id).toBe('receiver');
    const result = feed(unfolding, [[inputOf({ kind: 'message', word: 'Hello' })]], true);
    expect(result.value).toBe('working');
  });
});

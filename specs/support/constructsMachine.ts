/**
 * A machine that uses every construct the engine claims to execute, including those our own
 * machines do not use (yet): parallel regions reaching final states (done.state events and
 * onDone), a compound final state with output, initial-transition actions, multiple targets,
 * not/and/or/stateIn and parameterised guards, delayed sendTo and raise with cancel, emit, log,
 * spawn inside assign, spawnChild and stopChild by id, invoke with onDone and onError, custom
 * actions, eventless loops, actions and guards that throw, and a machine-level output. Only the
 * engine-versus-interpreter property runs it.
 */
import { and, assign, cancel, emit, enqueueActions, forwardTo, fromCallback, log, not, or, raise, sendParent, sendTo, setup, stateIn, stopChild, type ActorRef, type EventObject } from 'xstate';
import { recordFromAction } from './engineEquivalence.js';

interface Context {
  count: number;
  trail: string[];
  parentRef: ActorRef<any, any>;
  spawned: unknown;
}

type Event =
  | { type: 'go' }
  | { type: 'inc'; by: number }
  | { type: 'left.done' }
  | { type: 'right.done' }
  | { type: 'both' }
  | { type: 'again' }
  | { type: 'spawn' }
  | { type: 'kill' }
  | { type: 'throw.action' }
  | { type: 'throw.guard' }
  | { type: 'loop' }
  | { type: 'ping.later' }
  | { type: 'ping.cancel' }
  | { type: 'finish' }
  | { type: 'custom' }
  | { type: 'toParent' }
  | { type: 'forward' }
  | { type: 'note.a' }
  | { type: 'note.a.b' }
  | { type: 'noted' };

export const constructsMachine = setup({
  types: {} as { context: Context; events: Event; input: { parentRef: Context['parentRef']; start: number } },
  actors: {
    // Replaced by the harness's stubs; typed to take any input.
    worker: fromCallback<EventObject, any>(() => {}),
    helper: fromCallback<EventObject, any>(() => {}),
  },
  delays: { shortly: ({ context }) => 5 + context.count },
  guards: {
    positive: ({ context }) => context.count > 0,
    atLeast: ({ context }, params: { n: number }) => context.count >= params.n,
    boom: () => {
      throw new Error('guard exploded');
    },
  },
  actions: {
    note: assign({ trail: ({ context, event }, params: { tag: string } | undefined) => [...context.trail, `${params?.tag ?? '-'}:${event.type}`] }),
    tellParent: sendTo(({ context }) => context.parentRef, ({ context }) => ({ type: 'told', count: context.count })),
    custom: ({ context, event }) => recordFromAction(['custom', context.count, event.type]),
  },
}).createMachine({
  id: 'constructs',
  context: ({ input }) => ({ count: input.start, trail: [], parentRef: input.parentRef, spawned: undefined }),
  entry: [{ type: 'note', params: { tag: 'root' } }, log(({ context }) => `start ${context.count}`, 'label')],
  exit: emit({ type: 'root.exit' }),
  initial: 'idle',
  on: {
    inc: { actions: [assign({ count: ({ context, event }) => context.count + event.by }), 'custom'] },
    'throw.action': {
      actions: () => {
        throw new Error('action exploded');
      },
    },
    'throw.guard': { guard: 'boom', target: '.idle' },
    custom: { actions: 'custom' },
    // No parent here: both interpreters fail the same way.
    toParent: { actions: sendParent({ type: 'hello' }) },
    // Wildcards: exact first, then the longest matching descriptor, then `*`.
    'note.*': [{ guard: 'positive', actions: { type: 'note', params: { tag: 'note.*' } } }],
    'note.a.*': { actions: { type: 'note', params: { tag: 'note.a.*' } } },
    'note.a': { guard: { type: 'atLeast', params: { n: 2 } }, actions: { type: 'note', params: { tag: 'note.a' } } },
    '*': { actions: { type: 'note', params: { tag: '*' } } },
    finish: '.done',
    'ping.later': { actions: sendTo(({ context }) => context.parentRef, { type: 'later' }, { delay: 'shortly', id: 'ping' }) },
    'ping.cancel': { actions: cancel('ping') },
    spawn: {
      actions: assign({ spawned: ({ spawn }) => spawn('helper', { id: 'helper-1', input: { n: 1 } }) }),
    },
    kill: { actions: stopChild('helper-1') },
  },
  states: {
    idle: {
      entry: { type: 'note', params: { tag: 'idle' } },
      on: {
        go: [
          { guard: not('positive'), target: 'working', actions: raise({ type: 'left.done' }) },
          { guard: and(['positive', { type: 'atLeast', params: { n: 3 } }]), target: ['working.left.finished', 'working.right.b'] },
          { target: 'working' },
        ],
        loop: 'looping',
      },
    },
    looping: {
      always: [
        { guard: { type: 'atLeast', params: { n: 6 } }, target: 'idle' },
        { actions: assign({ count: ({ context }) => context.count + 1 }) },
      ],
    },
    working: {
      type: 'parallel',
      entry: enqueueActions(({ enqueue, check, context }) => {
        enqueue({ type: 'note', params: { tag: 'work' } });
        if (check('positive')) enqueue.raise({ type: 'right.done' }, { delay: 10, id: 'late-right' });
        enqueue.spawnChild('worker', { id: 'w', input: ({ context: c }: { context: Context }) => ({ count: c.count }) });
        enqueue.sendTo('w', { type: 'hello', count: context.count });
        enqueue.emit({ type: 'working' });
      }),
      exit: [cancel('late-right'), 'tellParent'],
      onDone: { target: 'idle', actions: { type: 'note', params: { tag: 'bothDone' } } },
      states: {
        left: {
          initial: 'running',
          states: {
            running: {
              invoke: { id: 'job', src: 'worker', input: { job: true }, onDone: 'finished', onError: { target: 'finished', actions: 'custom' } },
              on: {
                'left.done': 'finished',
                both: { guard: or([stateIn('#constructs.working.right.b'), 'positive']), target: ['#constructs.working.left.finished', '#constructs.working.right.b'] },
              },
            },
            finished: { type: 'final' },
          },
        },
        right: {
          initial: 'a',
          states: {
            a: {
              after: { shortly: 'b', 7: { actions: forwardTo('w') } },
              on: { 'right.done': 'b', again: { target: 'a', reenter: true }, forward: { actions: forwardTo('w') } },
            },
            b: { type: 'final' },
          },
        },
      },
    },
    done: {
      initial: 'inner',
      onDone: 'final',
      states: {
        inner: { always: { target: 'innerDone', actions: 'tellParent' } },
        innerDone: { type: 'final', output: ({ context }) => ({ at: context.count }) },
      },
    },
    final: { type: 'final', entry: 'custom' },
  },
  output: ({ context, event }) => ({ count: context.count, trail: context.trail.length, event: event.type }),
});

/**
 * Batched boundaries: a transport that batches its reads (adapters/ws `readBatches`) hands its
 * receiver the frames of one socket read as one `transport.batch` event. `unfoldingReadBatches`
 * makes any machine logic (hosted on the engine or on XState's interpreter, supervised or not)
 * take such an event as the same frames one after the other, in one step of its actor: one
 * mailbox entry, one snapshot update, one inspection event (the batch) instead of one per frame.
 *
 * What the machine sees is unchanged: each frame is a `transport.message`/`transport.rejected`
 * event processed by its own transition, in order, and a frame after the machine has finished is
 * not processed (as an actor drops events once done). What changes is only when the events the
 * machine's actions send to other actors are processed: after the batch, not between its frames.
 */
import type { AnyActorLogic, EventObject } from 'xstate';
import type { StreamBatch } from '../transport.js';

function isBatch(event: EventObject): event is StreamBatch {
  return event.type === 'transport.batch';
}

export function unfoldingReadBatches<TLogic extends AnyActorLogic>(logic: TLogic): TLogic {
  const transition = logic.transition;
  const wrapper = Object.create(logic) as TLogic;
  Object.assign(wrapper, {
    transition(this: AnyActorLogic, snapshot: { status?: string }, event: EventObject, scope: unknown) {
      if (!isBatch(event)) return transition.call(this, snapshot as never, event as never, scope as never);
      let next = snapshot;
      for (const input of event.events) {
        if (next.status !== 'active') break;
        next = transition.call(this, next as never, input as never, scope as never) as { status?: string };
      }
      return next;
    },
  });
  return wrapper;
}

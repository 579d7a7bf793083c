/**
 * Which participant an inspected actor is, told by its machine id and nothing else (so it works
 * for real actors and for the stand-ins synthesised for tasks alike): `actorRef.logic.id`, else
 * the snapshot's `machine.id`. Transports, pools and the task registry have no machine id: they
 * are plumbing, not participants, and have no kind.
 */
import type { InspectionEvent } from 'xstate';

/** An actor as inspection events name it (a real actor, or a task's stand-in). */
export type InspectedActor = InspectionEvent['actorRef'];

export const PARTICIPANT_KINDS = [
  'provider',
  'session',
  'taskRegistry',
  'providerTask',
  'client',
  'repository',
  'repositoryEntry',
  'connection',
  'clientTask',
] as const;
export type ParticipantKind = (typeof PARTICIPANT_KINDS)[number];

const KNOWN = new Set<string>(PARTICIPANT_KINDS);

interface Inspectable {
  readonly logic?: { readonly id?: unknown };
  readonly src?: unknown;
}

/** The participant kind of an actor, or undefined for plumbing (transports, pools). */
export function kindOf(actorRef: InspectedActor | undefined, snapshot?: unknown): ParticipantKind | undefined {
  const logicId = (actorRef as Inspectable | undefined)?.logic?.id;
  const machineId = (snapshot as { machine?: { id?: unknown } } | undefined)?.machine?.id;
  const id = typeof logicId === 'string' ? logicId : machineId;
  return typeof id === 'string' && KNOWN.has(id) ? (id as ParticipantKind) : undefined;
}

/** The snapshot an inspection event carries, or the actor's current one (never before it exists). */
export function snapshotOf(event: InspectionEvent): unknown {
  if (event.type === '@xstate.snapshot') return event.snapshot;
  try {
    return (event.actorRef as { getSnapshot?: () => unknown }).getSnapshot?.();
  } catch {
    return undefined;
  }
}

/** A task actor's taskId: its context says (the actor id of a provider task is a pool key). */
export function taskIdOf(actorRef: InspectedActor, snapshot: unknown): string {
  const taskId = (snapshot as { context?: { taskId?: unknown } } | undefined)?.context?.taskId;
  return typeof taskId === 'string' ? taskId : String((actorRef as { id?: unknown }).id);
}

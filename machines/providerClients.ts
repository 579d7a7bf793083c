/**
 * The provider's book of sessions and clients (machines/provider.ts), as pure functions of its
 * context: which session acts for which clientId, who owns each clientId (SEC-10), where replies
 * go (TASK-13). Every key is wire data, so everything here is a Map (SEC-9).
 *
 * Lifetime of an owner: from the first binding of its clientId until the provider remembers
 * nothing of it, i.e. no verified session is open and the ledger holds no task of it (the task
 * registry reports both edges: `registry.clientRecords`). Forgetting earlier would let anyone
 * claim the clientId and read its finished tasks; never forgetting would grow without bound.
 */
import { claimClient, type ClientOwner, type SessionIdentity } from './identity.js';
import { withEntry, withoutEntry } from './keyed.js';

export interface SessionRecord {
  readonly clientId: string | undefined;
  /** SEC-10: the session may act for its clientId (false: every task message gets FORBIDDEN). */
  readonly verified: boolean;
  readonly identity: SessionIdentity | undefined;
}

export interface OwnerRecord {
  readonly owner: ClientOwner;
  /** The ledger holds at least one task of this clientId. */
  readonly hasRecords: boolean;
}

export interface ClientBook {
  /** connectionId -> session. */
  readonly sessions: ReadonlyMap<string, SessionRecord>;
  /**
   * clientId -> connectionIds of the VERIFIED sessions bound to it, newest last. Replies go to the
   * newest; when it ends, the next newest still open takes over (a client may hold several).
   */
  readonly clients: ReadonlyMap<string, readonly string[]>;
  /** clientId -> who it belongs to (SEC-10). */
  readonly owners: ReadonlyMap<string, OwnerRecord>;
}

export const emptyClientBook: ClientBook = { sessions: new Map(), clients: new Map(), owners: new Map() };

export function withSessionOpened(book: ClientBook, connectionId: string): Pick<ClientBook, 'sessions'> {
  return { sessions: withEntry(book.sessions, connectionId, { clientId: undefined, verified: false, identity: undefined }) };
}

/** An owner nothing refers to any more is forgotten (see the lifetime above). */
function withoutIdleOwner(owners: ReadonlyMap<string, OwnerRecord>, clients: ReadonlyMap<string, readonly string[]>, clientId: string) {
  const record = owners.get(clientId);
  return record !== undefined && !record.hasRecords && !clients.has(clientId) ? withoutEntry(owners, clientId) : owners;
}

export type BindOutcome = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** SEC-10: a session bound `clientId`; may it act for it? The book after the decision, and the decision. */
export function withSessionBound(
  book: ClientBook,
  connectionId: string,
  clientId: string,
  identity: SessionIdentity,
): { readonly book: ClientBook; readonly outcome: BindOutcome } {
  const current = book.owners.get(clientId);
  const decision = claimClient(current?.owner, identity, clientId);
  if (!decision.allowed) {
    const sessions = withEntry(book.sessions, connectionId, { clientId, verified: false, identity });
    return { book: { ...book, sessions }, outcome: { allowed: false, reason: decision.reason } };
  }
  const others = (book.clients.get(clientId) ?? []).filter((id) => id !== connectionId);
  return {
    book: {
      sessions: withEntry(book.sessions, connectionId, { clientId, verified: true, identity }),
      clients: withEntry(book.clients, clientId, [...others, connectionId]),
      owners: withEntry(book.owners, clientId, { owner: decision.owner, hasRecords: current?.hasRecords ?? false }),
    },
    outcome: { allowed: true },
  };
}

/** The book after session `connectionId` is gone. */
export function withSessionGone(book: ClientBook, connectionId: string): ClientBook {
  const record = book.sessions.get(connectionId);
  const sessions = withoutEntry(book.sessions, connectionId);
  const clientId = record?.verified ? record.clientId : undefined;
  if (clientId === undefined) return { ...book, sessions };
  const remaining = (book.clients.get(clientId) ?? []).filter((id) => id !== connectionId);
  const clients = remaining.length === 0 ? withoutEntry(book.clients, clientId) : withEntry(book.clients, clientId, remaining);
  return { sessions, clients, owners: withoutIdleOwner(book.owners, clients, clientId) };
}

/**
 * The ledger started (`present`) or stopped holding tasks of `clientId`. A first task recorded
 * after its session already ended (the session's end overtook the registry's report) brings the
 * owner back from `owner`, the identity the task was assigned with.
 */
export function withClientRecords(book: ClientBook, clientId: string, present: boolean, owner: ClientOwner | undefined): Pick<ClientBook, 'owners'> {
  const current = book.owners.get(clientId);
  if (present) {
    const restored = current?.owner ?? owner;
    return restored === undefined ? { owners: book.owners } : { owners: withEntry(book.owners, clientId, { owner: restored, hasRecords: true }) };
  }
  if (current === undefined) return { owners: book.owners };
  return { owners: withoutIdleOwner(withEntry(book.owners, clientId, { ...current, hasRecords: false }), book.clients, clientId) };
}

/** Where a reply for `clientId` goes: its newest verified session, if any (TASK-13). */
export const replyTargetOf = (book: ClientBook, clientId: string): string | undefined => book.clients.get(clientId)?.at(-1);

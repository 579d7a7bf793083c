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

/**
 * Where a session stands for the connection limits (SEC-15): being refused (it counts against
 * no limit), anonymous (no credential yet, while authentication is required), or credentialed
 * (it presented one at the upgrade, or authenticated since; or none is required).
 */
export type SessionStanding = 'refused' | 'anonymous' | 'credentialed';

export interface SessionRecord {
  readonly clientId: string | undefined;
  /** SEC-10: the session may act for its clientId (false: every task message gets FORBIDDEN). */
  readonly verified: boolean;
  readonly identity: SessionIdentity | undefined;
  readonly standing: SessionStanding;
  /** The principal it authenticated as, once it has (SEC-15 counts sessions per principal). */
  readonly principal: string | undefined;
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
  /** SEC-15: sessions not being refused, and those of them still anonymous. */
  readonly admittedSessions: number;
  readonly anonymousSessions: number;
  /** SEC-15: open sessions per principal. */
  readonly principalSessions: ReadonlyMap<string, number>;
}

export const emptyClientBook: ClientBook = {
  sessions: new Map(),
  clients: new Map(),
  owners: new Map(),
  admittedSessions: 0,
  anonymousSessions: 0,
  principalSessions: new Map(),
};

type Counts = Pick<ClientBook, 'admittedSessions' | 'anonymousSessions'>;

function countsWith(book: Counts, standing: SessionStanding, delta: 1 | -1): Counts {
  return {
    admittedSessions: book.admittedSessions + (standing === 'refused' ? 0 : delta),
    anonymousSessions: book.anonymousSessions + (standing === 'anonymous' ? delta : 0),
  };
}

const withPrincipalCount = (map: ReadonlyMap<string, number>, principal: string, delta: 1 | -1) => {
  const count = (map.get(principal) ?? 0) + delta;
  return count <= 0 ? withoutEntry(map, principal) : withEntry(map, principal, count);
};

export function withSessionOpened(book: ClientBook, connectionId: string, standing: SessionStanding): Pick<ClientBook, 'sessions' | 'admittedSessions' | 'anonymousSessions'> {
  return {
    sessions: withEntry(book.sessions, connectionId, { clientId: undefined, verified: false, identity: undefined, standing, principal: undefined }),
    ...countsWith(book, standing, 1),
  };
}

/** SEC-15: the session authenticated as `principal`: no longer anonymous, counted for its principal. */
export function withSessionAuthenticated(book: ClientBook, connectionId: string, principal: string): Partial<ClientBook> {
  const record = book.sessions.get(connectionId);
  if (record === undefined || record.principal !== undefined || record.standing === 'refused') return {};
  return {
    sessions: withEntry(book.sessions, connectionId, { ...record, standing: 'credentialed', principal }),
    ...countsWith(countsWith(book, record.standing, -1), 'credentialed', 1),
    principalSessions: withPrincipalCount(book.principalSessions, principal, 1),
  };
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
  const record = book.sessions.get(connectionId);
  const standing = record?.standing ?? 'credentialed';
  const principal = record?.principal;
  if (!decision.allowed) {
    const sessions = withEntry(book.sessions, connectionId, { clientId, verified: false, identity, standing, principal });
    return { book: { ...book, sessions }, outcome: { allowed: false, reason: decision.reason } };
  }
  const others = (book.clients.get(clientId) ?? []).filter((id) => id !== connectionId);
  return {
    book: {
      ...book,
      sessions: withEntry(book.sessions, connectionId, { clientId, verified: true, identity, standing, principal }),
      clients: withEntry(book.clients, clientId, [...others, connectionId]),
      owners: withEntry(book.owners, clientId, { owner: decision.owner, hasRecords: current?.hasRecords ?? false }),
    },
    outcome: { allowed: true },
  };
}

/** The book after session `connectionId` is gone. */
export function withSessionGone(book: ClientBook, connectionId: string): ClientBook {
  const record = book.sessions.get(connectionId);
  if (record === undefined) return book;
  const counted: ClientBook = {
    ...book,
    sessions: withoutEntry(book.sessions, connectionId),
    ...countsWith(book, record.standing, -1),
    principalSessions: record.principal === undefined ? book.principalSessions : withPrincipalCount(book.principalSessions, record.principal, -1),
  };
  const clientId = record.verified ? record.clientId : undefined;
  if (clientId === undefined) return counted;
  const remaining = (book.clients.get(clientId) ?? []).filter((id) => id !== connectionId);
  const clients = remaining.length === 0 ? withoutEntry(book.clients, clientId) : withEntry(book.clients, clientId, remaining);
  return { ...counted, clients, owners: withoutIdleOwner(book.owners, clients, clientId) };
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

/** SEC-15: the connection limits of a provider. */
export interface SessionLimits {
  /** Sessions served at once, anonymous or not (CONN-10). */
  readonly sessionsMax: number;
  /** Of those, sessions without a credential while authentication is required. */
  readonly anonymousSessionsMax: number;
  /** Sessions one principal (API key, certificate) may hold at once. */
  readonly sessionsPerPrincipalMax: number;
}

/**
 * CONN-10, SEC-15: how a new connection stands, and why it is refused (1013) if it is. An
 * anonymous connection is refused once `anonymousSessionsMax` anonymous sessions are open, so
 * idle anonymous sockets can never take the places of clients with a credential.
 */
export function standingOf(
  book: Pick<ClientBook, 'admittedSessions' | 'anonymousSessions'>,
  limits: Pick<SessionLimits, 'sessionsMax' | 'anonymousSessionsMax'>,
  connection: { readonly authRequired: boolean; readonly claimsCredential: boolean },
): { readonly standing: SessionStanding; readonly refusal?: { readonly code: 'OVERLOADED'; readonly reason: string } } {
  if (book.admittedSessions >= limits.sessionsMax) {
    return { standing: 'refused', refusal: { code: 'OVERLOADED', reason: `${limits.sessionsMax} sessions already open` } };
  }
  if (!connection.authRequired || connection.claimsCredential) return { standing: 'credentialed' };
  if (book.anonymousSessions >= limits.anonymousSessionsMax) {
    return { standing: 'refused', refusal: { code: 'OVERLOADED', reason: `${limits.anonymousSessionsMax} unauthenticated sessions already open` } };
  }
  return { standing: 'anonymous' };
}

/**
 * SEC-10, the pure rules: who may act for a clientId (machines/identity.ts) and how long the
 * provider remembers who owns one (machines/providerClients.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { claimClient, hostOf, matchesPattern, type ClientOwner, type SessionIdentity } from '../machines/identity.js';
import { emptyClientBook, replyTargetOf, withClientRecords, withSessionBound, withSessionGone, withSessionOpened, type ClientBook } from '../machines/providerClients.js';

const here: SessionIdentity = { host: '10.0.0.5' };

describe('hostOf', () => {
  it.each([
    ['10.0.0.5:4321', '10.0.0.5'],
    ['[::1]:4321', '::1'],
    ['[::ffff:127.0.0.1]:80', '127.0.0.1'],
    ['10.0.0.5', '10.0.0.5'],
    ['::1', '::1'],
    ['fe80::1', 'fe80::1'],
  ])('%s -> %s', (address, host) => expect(hostOf(address)).toBe(host));
});

describe('matchesPattern', () => {
  it('* matches anything, a trailing * a prefix, anything else only itself', () => {
    expect(matchesPattern('*', 'x')).toBe(true);
    expect(matchesPattern('alice-*', 'alice-7')).toBe(true);
    expect(matchesPattern('alice-*', 'bob-7')).toBe(false);
    expect(matchesPattern('alice', 'alice-7')).toBe(false);
    expect(matchesPattern('alice', 'alice')).toBe(true);
  });
});

describe('claimClient (SEC-10)', () => {
  it('the first session to bind a clientId owns it, with whatever it proved', () => {
    expect(claimClient(undefined, here, 'c')).toEqual({ allowed: true, owner: { host: '10.0.0.5' } });
    expect(claimClient(undefined, { ...here, proof: 'p' }, 'c')).toEqual({ allowed: true, owner: { host: '10.0.0.5', proof: 'p' } });
    // With a credential, the credential owns it (any process holding the key may act for it).
    expect(claimClient(undefined, { ...here, proof: 'p', principal: 'key:a' }, 'c')).toEqual({
      allowed: true,
      owner: { host: '10.0.0.5', principal: 'key:a' },
    });
  });

  it('a proof, once pinned, is needed by every later session, from any host', () => {
    const owner: ClientOwner = { host: '10.0.0.5', proof: 'p' };
    expect(claimClient(owner, { host: '10.9.9.9', proof: 'p' }, 'c').allowed).toBe(true);
    expect(claimClient(owner, { host: '10.0.0.5' }, 'c').allowed).toBe(false);
    expect(claimClient(owner, { host: '10.0.0.5', proof: 'other' }, 'c').allowed).toBe(false);
  });

  it('without principal or proof, continuity is the host: another host is refused', () => {
    const owner: ClientOwner = { host: '10.0.0.5' };
    expect(claimClient(owner, here, 'c')).toEqual({ allowed: true, owner });
    expect(claimClient(owner, { host: '10.0.0.6' }, 'c').allowed).toBe(false);
    expect(claimClient(owner, { host: '10.0.0.6', proof: 'p' }, 'c').allowed).toBe(false);
  });

  it('an unproven binding takes the first proof its own host presents; from then on it is needed', () => {
    const first = claimClient({ host: '10.0.0.5' }, { host: '10.0.0.5', proof: 'p' }, 'c');
    expect(first).toEqual({ allowed: true, owner: { host: '10.0.0.5', proof: 'p' } });
  });

  it('a principal owns its clientIds: another credential is refused, the same one from anywhere (any proof) is not', () => {
    const owner: ClientOwner = { host: '10.0.0.5', principal: 'key:alice' };
    expect(claimClient(owner, { host: '10.0.0.7', principal: 'key:alice' }, 'c').allowed).toBe(true);
    expect(claimClient(owner, { host: '10.0.0.7', principal: 'key:alice', proof: 'other' }, 'c').allowed).toBe(true);
    expect(claimClient(owner, { host: '10.0.0.5', principal: 'key:bob' }, 'c').allowed).toBe(false);
    expect(claimClient(owner, { host: '10.0.0.5' }, 'c').allowed).toBe(false);
  });

  it('a credential limited to some clientIds may claim no other, even one nobody owns', () => {
    const limited: SessionIdentity = { host: '10.0.0.5', principal: 'key:alice', clientIds: ['alice-*'] };
    expect(claimClient(undefined, limited, 'alice-1').allowed).toBe(true);
    expect(claimClient(undefined, limited, 'bob-1').allowed).toBe(false);
  });

  it('property: a session is allowed exactly when it matches what the owner pinned', () => {
    const identity = fc.record({
      host: fc.constantFrom('h1', 'h2'),
      principal: fc.option(fc.constantFrom('key:a', 'key:b'), { nil: undefined }),
      proof: fc.option(fc.constantFrom('p1', 'p2'), { nil: undefined }),
    });
    fc.assert(
      fc.property(identity, identity, (first, later) => {
        const claimed = claimClient(undefined, first, 'c');
        if (!claimed.allowed) return false;
        const again = claimClient(claimed.owner, later, 'c');
        const owner = claimed.owner;
        const expected =
          owner.principal !== undefined
            ? owner.principal === later.principal
            : owner.proof !== undefined
              ? later.proof === owner.proof
              : later.host === owner.host;
        return again.allowed === expected;
      }),
      { seed: 42 },
    );
  });
});

describe('the provider book of clients (SEC-10)', () => {
  const open = (book: ClientBook, connectionId: string): ClientBook => ({ ...book, ...withSessionOpened(book, connectionId, 'credentialed') });
  const bind = (book: ClientBook, connectionId: string, clientId: string, identity: SessionIdentity) =>
    withSessionBound(book, connectionId, clientId, identity);

  it('an impersonating session is recorded unverified and never becomes a reply target', () => {
    let book = open(open(emptyClientBook, 'victim'), 'mallory');
    book = bind(book, 'victim', 'alice', { host: 'h1', proof: 'p' }).book;
    const attempt = bind(book, 'mallory', 'alice', { host: 'h2' });
    expect(attempt.outcome.allowed).toBe(false);
    book = attempt.book;
    expect(book.sessions.get('mallory')).toMatchObject({ clientId: 'alice', verified: false });
    expect(replyTargetOf(book, 'alice')).toBe('victim');
    // The victim's session ends: still nobody else receives alice's replies.
    book = withSessionGone(book, 'victim');
    expect(replyTargetOf(book, 'alice')).toBeUndefined();
  });

  it('an owner lives while a session or a ledger record refers to its clientId, then is forgotten', () => {
    let book = bind(open(emptyClientBook, 's1'), 's1', 'alice', { host: 'h1', proof: 'p' }).book;
    book = { ...book, ...withClientRecords(book, 'alice', true, undefined) };
    book = withSessionGone(book, 's1');
    // Tasks of alice are still in the ledger: the owner stays, and keeps the clientId.
    expect(book.owners.get('alice')).toEqual({ owner: { host: 'h1', proof: 'p' }, hasRecords: true });
    expect(bind(open(book, 's2'), 's2', 'alice', { host: 'h1' }).outcome.allowed).toBe(false);
    book = { ...book, ...withClientRecords(book, 'alice', false, undefined) };
    expect(book.owners.has('alice')).toBe(false);
  });

  it('a first record reported after its session ended brings the owner back from the assignment', () => {
    let book = bind(open(emptyClientBook, 's1'), 's1', 'alice', { host: 'h1', proof: 'p' }).book;
    book = withSessionGone(book, 's1');
    expect(book.owners.has('alice')).toBe(false);
    book = { ...book, ...withClientRecords(book, 'alice', true, { host: 'h1', proof: 'p' }) };
    expect(book.owners.get('alice')).toEqual({ owner: { host: 'h1', proof: 'p' }, hasRecords: true });
  });
});

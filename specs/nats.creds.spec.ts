/**
 * NATS decentralized authentication with `.creds` files (user JWT + NKey seed), against a real
 * nats-server in operator mode (specs/support/natsCreds.ts makes the operator, accounts, users
 * and the server configuration; no `nsc`). Each refusal is shown next to a control that succeeds
 * on the same server, so the spec fails if the server (or switchboard) stopped enforcing it.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '../runtime/client.js';
import { createProvider, type ProviderOptions } from '../runtime/provider.js';
import { ProtocolError } from '../machines/errors.js';
import { makeNatsTrust, onlyPrefix } from './support/natsCreds.js';
import { greeter, natsSuite, uniquePrefix } from './support/natsFixtures.js';
import { NATS_SERVER_MISSING } from './support/natsServer.js';

const describeNats = NATS_SERVER_MISSING === undefined ? describe : describe.skip;
if (NATS_SERVER_MISSING !== undefined) console.warn(`nats.creds.spec.ts skipped: ${NATS_SERVER_MISSING}`);

const trust = await makeNatsTrust();
afterAll(() => trust.dispose());
const suite = natsSuite({ config: trust.serverConfig });

type Logged = [level: string, message: string, detail?: unknown];
const recorder = () => {
  const lines: Logged[] = [];
  return { lines, log: (...line: Logged) => void lines.push(line), text: () => lines.map((line) => JSON.stringify(line)).join('\n') };
};

/** A provider that must not start: its start() rejection. */
async function refusedStart(options: Partial<ProviderOptions>): Promise<ProtocolError> {
  const provider = createProvider({ services: [greeter], lan: false, log: () => {}, ...options });
  suite.defer(() => provider.stop());
  const error: unknown = await provider.start().then(
    () => undefined,
    (rejection: unknown) => rejection,
  );
  expect(error).toBeInstanceOf(ProtocolError);
  return error as ProtocolError;
}

/** A client of `prefix` with `credentials`: waits for Greeter (briefly) and says what it found and logged. */
async function clientLooks(prefix: string, credentials: string | undefined): Promise<{ error: unknown; log: string }> {
  const { log, text } = recorder();
  const client = createClient({ lan: false, log, nats: suite.options(prefix, credentials === undefined ? {} : { credentials }) });
  suite.defer(() => client.stop());
  const error = await client.waitFor('Greeter', { timeoutMs: 400 }).then(
    () => undefined,
    (rejection: unknown) => rejection,
  );
  return { error, log: text() };
}

async function rawConnection(credentials: string): Promise<NatsConnection> {
  const nc = await connect({ servers: suite.node().url, authenticator: credsAuthenticator(readFileSync(credentials)) });
  suite.defer(() => nc.close());
  return nc;
}

describeNats('NATS credentials (.creds): decentralized JWT authentication on a real nats-server', () => {
  it('NATS-4: a provider and a client, each with its own user .creds, complete a task', async () => {
    const prefix = uniquePrefix();
    const [providerCreds, clientCreds] = await Promise.all([trust.user('provider'), trust.user('client')]);
    await suite.startProvider({ services: [greeter], lan: false, nats: suite.options(prefix, { credentials: providerCreds, name: 'greeter-1' }) });
    const client = suite.startClient({ lan: false, nats: suite.options(prefix, { credentials: clientCreds }) });
    const task = client.assign('Greeter', 'greet', { name: 'creds' }, { waitFor: { timeoutMs: 5_000 } });
    await expect(task.result).resolves.toEqual({ hello: 'creds' });
    expect(task.progress?.message).toBe('half way');
    expect(client.services().map((service) => service.endpoint)).toEqual([`nats://${prefix}/greeter-1`]);
  });

  it('no credentials: the provider cannot start and says the server wants authentication; the client finds nothing and logs why', async () => {
    const prefix = uniquePrefix();
    const refused = await refusedStart({ nats: suite.options(prefix) });
    expect(refused.code).toBe('UNAUTHENTICATED');
    expect(refused.message).toMatch(/cannot connect to NATS: Authorization Violation: the NATS server requires authentication and none was given/);
    const { error, log } = await clientLooks(prefix, undefined);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('SERVICE_UNAVAILABLE');
    expect(log).toMatch(/nats: cannot connect to nats:\/\/127\.0\.0\.1:\d+: Authorization Violation: the NATS server requires authentication/);
  });

  it('a user of an account of another operator (untrusted) is refused; a user of the trusted account on the same server is not', async () => {
    const prefix = uniquePrefix();
    const intruder = await trust.untrustedUser('intruder');
    const refused = await refusedStart({ nats: suite.options(prefix, { credentials: intruder }) });
    expect(refused.code).toBe('UNAUTHENTICATED');
    expect(refused.message).toContain(`Authorization Violation: the NATS server refused the user of ${intruder}`);
    const { error, log } = await clientLooks(prefix, intruder);
    expect((error as ProtocolError).code).toBe('SERVICE_UNAVAILABLE');
    expect(log).toContain(`refused the user of ${intruder}`);
    // Control: the same setup with a trusted user starts.
    await expect(suite.startProvider({ services: [greeter], lan: false, nats: suite.options(prefix, { credentials: await trust.user('trusted') }) })).resolves.toBeDefined();
  });

  it('an expired user JWT is refused; the same user with a JWT still valid connects', async () => {
    const prefix = uniquePrefix();
    const nowS = Math.floor(Date.now() / 1000);
    const expired = await trust.user('expired', { expiresAt: nowS - 5 });
    const refused = await refusedStart({ nats: suite.options(prefix, { credentials: expired }) });
    expect(refused.code).toBe('UNAUTHENTICATED');
    expect(refused.message).toMatch(/Authorization Violation: the NATS server refused the user of .*expired\.creds/);
    const valid = await trust.user('valid', { expiresAt: nowS + 600 });
    await expect(suite.startProvider({ services: [greeter], lan: false, nats: suite.options(prefix, { credentials: valid }) })).resolves.toBeDefined();
  });

  it('NATS-1: a user whose permissions deny the deployment prefix cannot see the provider, answer its discovery, take its listener, or read its tasks', async () => {
    const prefix = uniquePrefix();
    const [insider, outsider, unrestricted] = await Promise.all([
      trust.user('insider', { permissions: onlyPrefix(prefix) }),
      trust.user('outsider', { permissions: onlyPrefix(`${prefix}x`) }),
      trust.user('unrestricted'),
    ]);
    // The deployment's own users need nothing beyond `prefix.>` (request inboxes are under it);
    // without `$SRV.>` only NATS micro tools lose sight of the provider, which it says once.
    const providerLog = recorder();
    await suite.startProvider({ services: [greeter], lan: false, log: providerLog.log, nats: suite.options(prefix, { credentials: insider, name: 'real' }) });

    // The outsider listens to everything of the deployment; the control, an unrestricted user of the same account, does too.
    const seen = { outsider: 0, unrestricted: 0 };
    const outsiderSubscription = (await rawConnection(outsider)).subscribe(`${prefix}.>`, { callback: (error) => void (error ? undefined : seen.outsider++) });
    (await rawConnection(unrestricted)).subscribe(`${prefix}.>`, { callback: (error) => void (error ? undefined : seen.unrestricted++) });

    // A rogue provider of the outsider cannot listen in the deployment (its subscriptions are refused, so start() fails).
    const rogue = await refusedStart({ nats: suite.options(prefix, { credentials: outsider, name: 'rogue' }) });
    expect(rogue.code).toBe('FORBIDDEN');
    expect(rogue.message).toMatch(/cannot subscribe: Permissions Violation for Subscription to "[^"]+\.srv\.rogue"/);
    // A client of the outsider finds nothing and logs the permission refusals.
    const { error, log } = await clientLooks(prefix, outsider);
    expect((error as ProtocolError).code).toBe('SERVICE_UNAVAILABLE');
    expect(log).toContain(`nats: permission denied: Permissions Violation for Publish to \\"${prefix}.disc.req\\" (the NATS user's permissions must allow the subjects under ${prefix}.)`);

    const client = suite.startClient({ lan: false, nats: suite.options(prefix, { credentials: insider }) });
    await expect(client.assign('Greeter', 'greet', { name: 'scoped' }, { waitFor: { timeoutMs: 5_000 } }).result).resolves.toEqual({ hello: 'scoped' });
    expect(client.services().map((service) => service.endpoint)).toEqual([`nats://${prefix}/real`]);
    expect(seen.unrestricted).toBeGreaterThan(0);
    expect(seen.outsider).toBe(0);
    expect(outsiderSubscription.isClosed()).toBe(true);
    const denied = providerLog.lines.filter(([, message]) => message.startsWith('nats: permission denied'));
    expect(denied).toEqual([['warn', expect.stringMatching(/^nats: permission denied: .*"\$SRV\.>" \(NATS micro tools will not list these services/)]]);
  });
});

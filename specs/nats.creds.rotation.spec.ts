/**
 * A renewed `.creds` file is used at the next reconnect. nats-server closes a connection when its
 * user JWT expires ("User Authentication Expired"); the NATS client reconnects, and must present
 * what the file holds now (a renewed JWT, as `nsc` or a rotation job writes it), not the bytes it
 * read at the first connect: with those the reconnect is refused and the provider is gone for
 * good. Real nats-server in operator mode; 2 to 3 s (a JWT's expiry has a 1 s resolution).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { makeNatsTrust } from './support/natsCreds.js';
import { greeter, natsSuite, uniquePrefix } from './support/natsFixtures.js';
import { NATS_SERVER_MISSING } from './support/natsServer.js';

const describeNats = NATS_SERVER_MISSING === undefined ? describe : describe.skip;
if (NATS_SERVER_MISSING !== undefined) console.warn(`nats.creds.rotation.spec.ts skipped: ${NATS_SERVER_MISSING}`);

const trust = await makeNatsTrust();
afterAll(() => trust.dispose());
const suite = natsSuite({ config: trust.serverConfig });

type Logged = [level: string, message: string, detail?: unknown];

describeNats('NATS credentials: a renewed .creds file is read at the reconnect', () => {
  it('a provider whose user JWT expired comes back with the renewed file and serves the next task', async () => {
    const prefix = uniquePrefix();
    const expiresAt = Math.floor(Date.now() / 1000) + 3;
    const credentials = await trust.user('rotating', { expiresAt });
    const logged: Logged[] = [];
    await suite.startProvider({
      services: [greeter],
      lan: false,
      log: (...line: Logged) => void logged.push(line),
      nats: suite.options(prefix, { credentials, name: 'rotating' }),
    });
    // The renewal: a new JWT (no expiry) in the same file, well before the old one expires (the
    // NATS client gives up after two authentication errors in a row: the expiry, then a refusal).
    expect(await trust.user('rotating')).toBe(credentials);
    const client = suite.startClient({ lan: false, nats: suite.options(prefix, { credentials: await trust.user('client') }) });
    await expect(client.assign('Greeter', 'greet', { name: 'before' }, { waitFor: { timeoutMs: 5_000 } }).result).resolves.toEqual({ hello: 'before' });
    const expired = () => logged.some(([, , detail]) => JSON.stringify(detail ?? '').includes('User Authentication Expired'));
    const reconnected = () => logged.some(([, message]) => message === 'nats: reconnect');
    const deadline = Date.now() + 8_000;
    while (!(expired() && reconnected()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(expired(), 'the server closed the connection at the JWT expiry').toBe(true);
    expect(reconnected(), `the provider reconnected with the renewed file:\n${logged.map((line) => JSON.stringify(line)).join('\n')}`).toBe(true);

    await expect(client.assign('Greeter', 'greet', { name: 'after' }, { timeoutMs: 5_000 }).result).resolves.toEqual({ hello: 'after' });
  });
});

/**
 * A `.creds` file that cannot work is refused before anything connects: missing, a directory,
 * accessible to every user, or not a `.creds` at all. The library throws a TypeError at
 * createProvider/createClient (as for any bad option); the CLI exits 2 with a usage error. The
 * message names the file and the fault, never the file's content (the seed is a secret).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { credentialsProblem } from '../adapters/nats/credentials.js';
import { createClient } from '../runtime/client.js';
import { createProvider } from '../runtime/provider.js';
import { cliInProcess } from './support/cliInProcess.js';
import { makeNatsTrust } from './support/natsCreds.js';
import { greeter } from './support/natsFixtures.js';

const trust = await makeNatsTrust();
afterAll(() => trust.dispose());

const good = await trust.user('good');
const goodText = readFileSync(good, 'utf8');
const seed = /BEGIN USER NKEY SEED-+\n(SU[A-Z2-7]+)\n/.exec(goodText)?.[1] as string;
const missing = `${good}.missing`;
const directory = join(trust.dir, 'dir.creds');
mkdirSync(directory);
const worldReadable = trust.file('world.creds', goodText, 0o644);
const groupReadable = trust.file('group.creds', goodText, 0o640);
const notCreds = trust.file('notes.creds', `just some notes mentioning ${seed}\n`, 0o600);
const accountSeed = trust.file(
  'account-seed.creds',
  goodText.replace(seed, `SA${seed.slice(2)}`),
  0o600,
);

const faults: [what: string, path: string, message: RegExp][] = [
  ['missing', missing, /cannot be read: no such file/],
  ['a directory', directory, /is not a file/],
  ['readable by every user (0644)', worldReadable, /is accessible to every user \(mode 0644\).*chmod 600/],
  ['not a .creds file', notCreds, /is not a NATS \.creds file: no user JWT block/],
  ['an account seed instead of a user seed', accountSeed, /the seed is not a user seed/],
];

describe('NATS credentials files: refused at once, with the file and the fault named', () => {
  it('a usable .creds (0600, and 0640 for a service group) has no problem', () => {
    expect(credentialsProblem(good)).toBeUndefined();
    expect(credentialsProblem(groupReadable)).toBeUndefined();
  });

  it.each(faults)('library: %s -> TypeError from createProvider and createClient, nothing started', (_what, path, message) => {
    const nats = { servers: 'nats://127.0.0.1:1', credentials: path };
    expect(() => createProvider({ services: [greeter], lan: false, nats })).toThrow(TypeError);
    expect(() => createProvider({ services: [greeter], lan: false, nats })).toThrow(message);
    expect(() => createClient({ lan: false, nats })).toThrow(message);
    expect(() => createClient({ lan: false, nats })).toThrow(path);
  });

  it.each(faults)('CLI: --nats-creds %s -> usage error, exit 2', async (_what, path, message) => {
    const result = await cliInProcess(['discover', '--nats', 'nats://127.0.0.1:1', '--no-lan', '--nats-creds', path, '--timeout-ms', '100']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--nats-creds: credentials /);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toContain(seed);
  });

  it('no message ever quotes the file: arbitrary content is judged without throwing, and the seed never shows', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.boolean(), (noise, withSeed) => {
        const text = withSeed ? `${noise}\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n${noise}` : noise;
        const path = trust.file('fuzz.creds', text, 0o600);
        const problem = credentialsProblem(path);
        expect(problem).toMatch(/^credentials .*fuzz\.creds /);
        expect(problem).not.toContain(seed);
      }),
      { numRuns: 60 },
    );
  });
});

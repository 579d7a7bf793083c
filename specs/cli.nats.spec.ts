/**
 * The NATS options of the CLI (runtime/cli/natsOptions.ts) and `switchboard gateway`: parsed
 * into createProvider / createClient options, and refused with a usage error (exit 2) when they
 * leave nowhere to talk. Runs in-process through `main`, no sockets.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { main } from '../runtime/cli.js';
import { addNatsOptions, describeNetwork, networkChoiceOf } from '../runtime/cli/natsOptions.js';

function captured() {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (text: string) => ((out += text), true) }, stderr: { write: (text: string) => ((err += text), true) } },
    out: () => out,
    err: () => err,
  };
}

function parsed(argv: string[]) {
  const program = addNatsOptions(new Command('switchboard').exitOverride());
  program.parse(['node', 'switchboard', ...argv]);
  return networkChoiceOf(program);
}

describe('CLI: NATS options', () => {
  it('turns the flags into the nats and lan options', () => {
    // --nats-creds must name a readable .creds file (checked when parsed: specs/nats.creds.files.spec.ts).
    const creds = join(mkdtempSync(join(tmpdir(), 'sb-cli-nats-')), 'x.creds');
    writeFileSync(creds, '-----BEGIN NATS USER JWT-----\nhead.claims.sig\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\nSUAFAKE\n------END USER NKEY SEED------\n', { mode: 0o600 });
    expect(parsed([])).toEqual({});
    expect(
      parsed([
        '--nats', 'nats://a:4222,nats://b:4222', '--nats-prefix', 'acme.prod', '--nats-name', 'p1', '--nats-creds', creds,
        '--nats-ca', '/ca.pem', '--nats-durable-outcomes', '--no-lan',
      ]),
    ).toEqual({
      nats: { servers: ['nats://a:4222', 'nats://b:4222'], subjectPrefix: 'acme.prod', name: 'p1', credentials: creds, tls: { caFile: '/ca.pem' }, durableOutcomes: true },
      lan: false,
    });
    expect(describeNetwork({ port: 24_000 }, parsed(['--nats', 'nats://a:4222']))).toBe('UDP 24000, broadcast on every interface, and NATS nats://a:4222 (subjects switchboard.*)');
    rmSync(dirname(creds), { recursive: true, force: true });
  });

  it('--no-lan without --nats, and gateway without --nats, are usage errors (exit 2)', async () => {
    const noLan = captured();
    expect(await main(['node', 'switchboard', 'discover', '--no-lan'], noLan.io as never)).toBe(2);
    expect(noLan.err()).toMatch(/--no-lan needs --nats/);
    const gateway = captured();
    expect(await main(['node', 'switchboard', 'gateway'], gateway.io as never)).toBe(2);
    expect(gateway.err()).toMatch(/gateway needs --nats/);
  });
});

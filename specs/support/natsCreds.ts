/**
 * Decentralized NATS authentication for specs, without `nsc`: an operator, a system account and
 * an application account, with their NKeys and JWTs made here (`@nats-io/nkeys`, `@nats-io/jwt`),
 * the nats-server configuration that trusts them (operator mode, `resolver: MEMORY`, the accounts
 * preloaded), and user `.creds` files in the format `nsc` writes (mode 0600).
 *
 * Users are made with any permissions and expiry, and from an untrusted second operator, so the
 * attack specs can show what the server refuses.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeAccount, encodeOperator, encodeUser, fmtCreds, type Permissions } from '@nats-io/jwt';
import { createAccount, createOperator, createUser, type KeyPair } from '@nats-io/nkeys';

/** Accounts without limits (an account JWT without them would allow no connection at all). */
const UNLIMITED = { subs: -1, conn: -1, leaf: -1, imports: -1, exports: -1, data: -1, payload: -1, wildcards: true };

export interface UserSpec {
  /** Subject permissions of the user's JWT. @default everything */
  readonly permissions?: Partial<Permissions>;
  /** Expiry, unix seconds (`exp` of the JWT). @default none */
  readonly expiresAt?: number;
}

export interface NatsTrust {
  /** The temporary directory every file is written to. */
  readonly dir: string;
  /** The nats-server configuration text (pass it as `startNatsNode({ config })`). */
  readonly serverConfig: string;
  /** Writes a `.creds` file (mode 0600) of a new user of the application account. */
  user(name: string, spec?: UserSpec): Promise<string>;
  /** A `.creds` file of a user of an account of another operator, which this server does not trust. */
  untrustedUser(name: string): Promise<string>;
  /** Writes `text` as a file in the temporary directory with `mode`; returns its path. */
  file(name: string, text: string, mode: number): string;
  /** Removes the temporary directory. */
  dispose(): void;
}

async function operatorWithAccount(name: string): Promise<{ operator: KeyPair; operatorJwt: string; account: KeyPair; accountJwt: string }> {
  const operator = createOperator();
  const account = createAccount();
  const accountJwt = await encodeAccount(`${name}-app`, account, { limits: UNLIMITED }, { signer: operator });
  const operatorJwt = await encodeOperator(name, operator);
  return { operator, operatorJwt, account, accountJwt };
}

/** A trusted operator with a system account and one application account, and a temp directory for the files. */
export async function makeNatsTrust(): Promise<NatsTrust> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-nats-creds-'));
  const system = createAccount();
  const { operator, account, accountJwt } = await operatorWithAccount('sb-test');
  const operatorJwt = await encodeOperator('sb-test', operator, { system_account: system.getPublicKey() });
  const systemJwt = await encodeAccount('SYS', system, { limits: UNLIMITED }, { signer: operator });
  const untrusted = await operatorWithAccount('sb-intruder');

  const file = (name: string, text: string | Uint8Array, mode: number): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode });
    chmodSync(path, mode); // the umask may have taken bits away
    return path;
  };
  const writeUser = async (name: string, issuer: KeyPair, spec: UserSpec): Promise<string> => {
    const user = createUser();
    const jwt = await encodeUser(name, user, issuer, spec.permissions ?? {}, spec.expiresAt === undefined ? {} : { exp: spec.expiresAt });
    return file(`${name}.creds`, fmtCreds(jwt, user), 0o600);
  };

  const serverConfig = [
    `operator: ${operatorJwt}`,
    `system_account: ${system.getPublicKey()}`,
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${system.getPublicKey()}: ${systemJwt}`,
    `  ${account.getPublicKey()}: ${accountJwt}`,
    '}',
  ].join('\n');

  return {
    dir,
    serverConfig,
    user: (name, spec = {}) => writeUser(name, account, spec),
    untrustedUser: (name) => writeUser(name, untrusted.account, {}),
    file,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Publish and subscribe rights on `prefix.>` and nothing else (request inboxes are under it too). */
export function onlyPrefix(prefix: string): Partial<Permissions> {
  return { pub: { allow: [`${prefix}.>`] }, sub: { allow: [`${prefix}.>`] } };
}

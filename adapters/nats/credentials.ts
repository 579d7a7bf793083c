/**
 * The `.creds` file of NATS decentralized authentication (a user JWT and the user's NKey seed, as
 * `nsc` writes it), checked when the options are resolved and read again at every (re)connect.
 *
 * Checked at once because a wrong path or a file that is not a `.creds` would otherwise surface
 * only as a connect failure that discovery retries forever. Read again at every connect because
 * `nsc` (or an operator's rotation job) replaces the file when a user JWT is renewed: a connection
 * that the server closed at the old JWT's expiry must come back with the new one.
 *
 * Messages never quote the file's content: the seed is a secret.
 */
import { readFileSync, statSync } from 'node:fs';

/** The blocks `nsc` writes; the same layout @nats-io/transport-node's credsAuthenticator parses. */
const JWT_BLOCK = /-{3,}BEGIN NATS USER JWT-{3,}\s*\n\s*([A-Za-z0-9_.-]+)\s*\n\s*-{3,}END NATS USER JWT-{3,}/;
const SEED_BLOCK = /-{3,}BEGIN USER NKEY SEED-{3,}\s*\n\s*(S[A-Z2-7]+)\s*\n\s*-{3,}END USER NKEY SEED-{3,}/;

/** Why the `.creds` file at `path` cannot be used, or undefined when it can. */
export function credentialsProblem(path: string): string | undefined {
  let mode: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) return `credentials ${path} is not a file`;
    mode = stat.mode;
  } catch (error) {
    return `credentials ${path} cannot be read: ${codeOf(error)}`;
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return `credentials ${path} cannot be read: ${codeOf(error)}`;
  }
  const jwt = JWT_BLOCK.exec(text)?.[1];
  if (jwt === undefined || jwt.split('.').length !== 3) return `credentials ${path} is not a NATS .creds file: no user JWT block`;
  const seed = SEED_BLOCK.exec(text)?.[1];
  if (seed === undefined) return `credentials ${path} is not a NATS .creds file: no user NKEY seed block`;
  if (!seed.startsWith('SU')) return `credentials ${path}: the seed is not a user seed (SU...)`;
  // Like ssh with a private key: a seed others can read is a seed others have. Group access is
  // allowed (secrets mounted for a service group, e.g. mode 0440).
  if (process.platform !== 'win32' && (mode & 0o007) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    return `credentials ${path} is accessible to every user (mode ${octal}): it holds a secret seed; chmod 600 it`;
  }
  return undefined;
}

/**
 * The file's bytes, read now; when it cannot be read (a rotation replacing it at this moment),
 * the bytes of the last read that worked.
 */
export function credentialsReader(path: string): () => Uint8Array {
  let last: Uint8Array | undefined;
  return () => {
    try {
      last = readFileSync(path);
    } catch (error) {
      if (last === undefined) throw error;
    }
    return last;
  };
}

function codeOf(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return typeof code === 'string' ? code : String(message ?? error);
}

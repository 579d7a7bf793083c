/**
 * Real NATS servers for specs: Debian's `nats-server` (.ci/run installs it), started on free
 * loopback ports (or inside a network namespace), one process per node, stopped by the spec.
 * Specs skip, saying why, when the binary is missing (`NATS_SERVER_MISSING`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from './processes.js';

function findBinary(): string | undefined {
  for (const candidate of [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/bin/nats-server', 'nats-server']) {
    if (candidate === undefined) continue;
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

export const NATS_SERVER_BIN = findBinary();

/** `setpriv --pdeathsig KILL` (util-linux), so a server never outlives a test process that died. */
const SETPRIV = spawnSync('setpriv', ['--help'], { encoding: 'utf8' }).stdout?.includes('--pdeathsig') === true;
const boundToParent = (argv: readonly string[]): [string, string[]] =>
  SETPRIV ? ['setpriv', ['--pdeathsig', 'KILL', ...argv]] : [argv[0] as string, argv.slice(1)];
/** Why NATS specs are skipped, or undefined when a server binary exists. */
export const NATS_SERVER_MISSING =
  NATS_SERVER_BIN === undefined ? 'no nats-server binary (Debian: apt-get install nats-server; .ci/run does it)' : undefined;

export interface NatsNodeOptions {
  /** Client port; a free one by default. */
  readonly port?: number;
  /** Address to listen on (clients and routes). @default 127.0.0.1 */
  readonly host?: string;
  readonly jetstream?: boolean;
  /** Cluster membership: this node's route port and its peers' route URLs. */
  readonly cluster?: { readonly name: string; readonly port: number; readonly routes: readonly string[] };
  /** Extra configuration text (authorization, tls blocks). */
  readonly config?: string;
  /** Run inside this network namespace (`ip netns exec`). */
  readonly netns?: string;
}

export interface NatsNode {
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** stderr so far (nats-server logs there). */
  log(): string;
  stop(): Promise<void>;
}

async function reachable(host: string, port: number, netns: string | undefined): Promise<boolean> {
  if (netns !== undefined) {
    return spawnSync('ip', ['netns', 'exec', netns, 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port}`]).status === 0;
  }
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startNatsNode(options: NatsNodeOptions = {}): Promise<NatsNode> {
  if (NATS_SERVER_BIN === undefined) throw new Error(NATS_SERVER_MISSING);
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'sb-nats-'));
  const lines = [`listen: "${host}:${port}"`, 'max_payload: 1048576'];
  if (options.jetstream === true) lines.push(`jetstream { store_dir: "${join(dir, 'js')}" }`);
  if (options.cluster !== undefined) {
    const { name, port: routePort, routes } = options.cluster;
    lines.push(`cluster { name: "${name}", listen: "${host}:${routePort}", routes: [${routes.map((r) => `"${r}"`).join(', ')}] }`);
  }
  if (options.config !== undefined) lines.push(options.config);
  const configFile = join(dir, 'nats.conf');
  writeFileSync(configFile, lines.join('\n'));
  const argv = ['-c', configFile];
  const [command, args] = boundToParent(
    options.netns === undefined ? [NATS_SERVER_BIN, ...argv] : ['ip', 'netns', 'exec', options.netns, NATS_SERVER_BIN, ...argv],
  );
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 5_000;
  while (!(await reachable(host, port, options.netns))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`nats-server did not start on ${host}:${port}: ${stderr.slice(-500)}`);
    }
    await sleep(20);
  }
  return {
    url: `nats://${host}:${port}`,
    port,
    process: child,
    log: () => stderr,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(3_000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

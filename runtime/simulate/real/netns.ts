/**
 * The network of a `--real` run: one Linux network namespace per participant, each with a veth
 * into a bridge that lives in a namespace of its own (the "switch"), so nothing is added to the
 * host's network namespace and no packet reaches the host's interfaces.
 *
 *   <prefix>s: br0 ── veth ── <prefix>0 (10.<a>.<b>.1)   one per participant
 *
 * Faults use the kernel's own tools inside the namespaces: iptables (a partition drops what a
 * host receives from the other side, broadcasts included), tc netem (loss, duplication,
 * reordering and delay on a host's egress, all of it or towards some addresses only).
 * Everything is removed by name in `destroy`.
 */
import { spawnSync } from 'node:child_process';
import type { LinkFaults } from '../faultSchedule.js';

const COMMAND_TIMEOUT_MS = 5_000;

export interface CommandResult {
  readonly ok: boolean;
  readonly output: string;
}

export function run(command: string, args: readonly string[]): CommandResult {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`.trim() };
}

/** Why `--real` cannot run here, or undefined when it can. */
export function realPrecondition(): string | undefined {
  if (process.platform !== 'linux') return '--real needs Linux (network namespaces)';
  if (process.getuid?.() !== 0) return '--real needs root (creating network namespaces needs CAP_NET_ADMIN); run it with sudo';
  for (const [tool, args, pkg] of [
    ['ip', ['-V'], 'iproute2'],
    ['tc', ['-V'], 'iproute2'],
    ['iptables', ['--version'], 'iptables'],
  ] as const) {
    if (spawnSync(tool, args, { timeout: COMMAND_TIMEOUT_MS }).status !== 0) return `--real needs \`${tool}\` (Debian package ${pkg})`;
  }
  return undefined;
}

export interface NamespaceHost {
  readonly participant: string;
  readonly namespace: string;
  readonly address: string;
}

export class NamespaceNetwork {
  readonly hosts = new Map<string, NamespaceHost>();
  readonly broadcast: string;
  readonly #switch: string;
  readonly #created: string[] = [];
  readonly #subnet: string;

  constructor(participants: readonly string[], id = process.pid.toString(36).slice(-5)) {
    // 10.<a>.<b>.0/24 from the pid, so two runs on one machine do not collide.
    const n = process.pid % 60_000;
    this.#subnet = `10.${200 + Math.floor(n / 256) % 50}.${n % 256}`;
    this.broadcast = `${this.#subnet}.255`;
    this.#switch = `sbs${id}s`;
    participants.forEach((participant, index) => {
      this.hosts.set(participant, { participant, namespace: `sbs${id}p${index}`, address: `${this.#subnet}.${index + 1}` });
    });
  }

  /** Builds the namespaces, bridge and links; throws with the failing command's output. */
  create(): void {
    const inUse = run('ip', ['-4', 'addr', 'show']).output;
    if (inUse.includes(`${this.#subnet}.`)) throw new Error(`${this.#subnet}.0/24 is already in use on this host`);
    const step = (args: string[]) => {
      const result = run('ip', args);
      if (!result.ok) throw new Error(`ip ${args.join(' ')} failed: ${result.output}`);
    };
    for (const namespace of [this.#switch, ...[...this.hosts.values()].map((host) => host.namespace)]) {
      step(['netns', 'add', namespace]);
      this.#created.push(namespace);
    }
    step(['-n', this.#switch, 'link', 'add', 'br0', 'type', 'bridge']);
    step(['-n', this.#switch, 'link', 'set', 'br0', 'up']);
    let index = 0;
    for (const host of this.hosts.values()) {
      const port = `v${index++}`;
      step(['-n', this.#switch, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.namespace]);
      step(['-n', this.#switch, 'link', 'set', port, 'master', 'br0']);
      step(['-n', this.#switch, 'link', 'set', port, 'up']);
      step(['-n', host.namespace, 'addr', 'add', `${host.address}/24`, 'brd', '+', 'dev', 'eth0']);
      step(['-n', host.namespace, 'link', 'set', 'eth0', 'up']);
      step(['-n', host.namespace, 'link', 'set', 'lo', 'up']);
    }
  }

  host(participant: string): NamespaceHost {
    const host = this.hosts.get(participant);
    if (host === undefined) throw new Error(`no namespace for ${participant}`);
    return host;
  }

  #inNamespace(participant: string, command: string, args: readonly string[]): CommandResult {
    return run('ip', ['netns', 'exec', this.host(participant).namespace, command, ...args]);
  }

  /** Nothing sent from `from` reaches `to` (iptables in `to`'s namespace, broadcasts included). */
  cut(from: string, to: string): () => void {
    const rule = ['INPUT', '-s', this.host(from).address, '-j', 'DROP'];
    const added = this.#inNamespace(to, 'iptables', ['-I', ...rule]);
    if (!added.ok) throw new Error(`iptables in ${to}: ${added.output}`);
    return () => void this.#inNamespace(to, 'iptables', ['-D', ...rule]);
  }

  /** Whether the kernel has the netem qdisc (some VM kernels do not). Probed once. */
  #netem: boolean | undefined;

  /**
   * Link faults from `from` to `to`: tc netem when the kernel has it (loss, duplication,
   * reordering, delay), else loss only, with iptables' statistic match in each receiver's
   * namespace. Returns the undo and what could not be reproduced.
   */
  link(from: string, to: readonly string[], faults: LinkFaults, everyone: boolean): { undo: () => void; note?: string } {
    if (this.#netem !== false) {
      try {
        const undo = this.netem(from, to, faults, everyone);
        this.#netem = true;
        const note = everyone ? undefined : 'a link fault towards some hosts only is a tc filter by destination address: broadcast datagrams are not affected';
        return note === undefined ? { undo } : { undo, note };
      } catch (error) {
        if (!/qdisc kind is unknown/i.test((error as Error).message)) throw error;
        this.#netem = false;
      }
    }
    const undos = (faults.loss ?? 0) > 0 ? to.map((target) => this.#lossy(from, target, faults.loss as number)) : [];
    const missing = [faults.delay !== undefined && 'delay', faults.duplicate && 'duplication', faults.reorder && 'reordering'].filter(Boolean);
    return {
      undo: () => undos.forEach((undo) => undo()),
      ...(missing.length === 0 ? {} : { note: `this kernel has no netem qdisc: link ${missing.join(', ')} not reproduced (loss is, with iptables)` }),
    };
  }

  /** Drops a share of what `to` receives from `from` (iptables statistic match). */
  #lossy(from: string, to: string, probability: number): () => void {
    const rule = ['INPUT', '-s', this.host(from).address, '-m', 'statistic', '--mode', 'random', '--probability', probability.toFixed(4), '-j', 'DROP'];
    const added = this.#inNamespace(to, 'iptables', ['-I', ...rule]);
    if (!added.ok) throw new Error(`iptables in ${to}: ${added.output}`);
    return () => void this.#inNamespace(to, 'iptables', ['-D', ...rule]);
  }

  /**
   * tc netem on `from`'s egress: to every address when `to` is everyone else, else through a prio
   * band that a u32 filter selects by destination (unicast only: broadcasts are not filtered).
   */
  netem(from: string, to: readonly string[], faults: LinkFaults, everyone: boolean): () => void {
    const delay = faults.delay ?? { min: 0, max: 0 };
    const mean = Math.round((delay.min + delay.max) / 2);
    const jitter = Math.round((delay.max - delay.min) / 2);
    const netem = [
      'netem',
      'delay',
      `${mean}ms`,
      ...(jitter > 0 ? [`${jitter}ms`] : []),
      ...(faults.loss ? ['loss', `${(faults.loss * 100).toFixed(2)}%`] : []),
      ...(faults.duplicate ? ['duplicate', `${(faults.duplicate * 100).toFixed(2)}%`] : []),
      ...(faults.reorder ? ['reorder', `${(faults.reorder * 100).toFixed(2)}%`] : []),
    ];
    const tc = (args: string[]) => {
      const result = this.#inNamespace(from, 'tc', args);
      if (!result.ok) throw new Error(`tc ${args.join(' ')} in ${from}: ${result.output}`);
    };
    this.#inNamespace(from, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']); // one egress fault per host at a time
    if (everyone) {
      tc(['qdisc', 'add', 'dev', 'eth0', 'root', ...netem]);
    } else {
      tc(['qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'prio', 'bands', '4', 'priomap', '1', '2', '2', '2', '1', '2', '0', '0', '1', '1', '1', '1', '1', '1', '1', '1']);
      tc(['qdisc', 'add', 'dev', 'eth0', 'parent', '1:4', 'handle', '40:', ...netem]);
      for (const target of to) {
        tc(['filter', 'add', 'dev', 'eth0', 'protocol', 'ip', 'parent', '1:0', 'prio', '1', 'u32', 'match', 'ip', 'dst', `${this.host(target).address}/32`, 'flowid', '1:4']);
      }
    }
    return () => void this.#inNamespace(from, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']);
  }

  /** Every partition and link fault removed. */
  clearFaults(): void {
    for (const host of this.hosts.values()) {
      this.#inNamespace(host.participant, 'iptables', ['-F', 'INPUT']);
      this.#inNamespace(host.participant, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']);
    }
  }

  destroy(): void {
    for (const namespace of this.#created.splice(0).reverse()) run('ip', ['netns', 'del', namespace]);
  }
}

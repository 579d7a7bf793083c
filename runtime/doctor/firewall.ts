/**
 * Firewall rules that drop the discovery port, where this user can read them: `iptables-save`
 * (the legacy and the nft-backed iptables alike) and `nft -a list ruleset`. Each is read and
 * parsed for rules in the input and output paths that DROP or REJECT UDP to the port (or all of
 * UDP), and for a DROP policy with no rule accepting it first. Rules matched on a source or an
 * interface are reported as such ("from 10.0.0.0/8"): they may or may not concern this case.
 *
 * Parsing is deliberately plain: what a rule says about protocol, port and verdict. A rule it
 * cannot read is not reported; a jump to a user chain is followed only by name (the chain's own
 * rules are read in turn).
 */
import { execFile } from 'node:child_process';

export interface DroppingRule {
  readonly tool: 'iptables' | 'nft';
  /** INPUT/OUTPUT for iptables; the chain name (hook input/output) for nft. */
  readonly chain: string;
  readonly direction: 'in' | 'out';
  readonly rule: string;
  /** Conditions besides protocol and port (`-s 10.0.0.0/8`, `iifname "eth0"`): it may not apply here. */
  readonly conditional: boolean;
  /** The command that removes it. */
  readonly remove: string;
}

export interface PolicyDrop {
  readonly tool: 'iptables' | 'nft';
  readonly chain: string;
  readonly direction: 'in' | 'out';
}

export interface FirewallReading {
  /** Which tools could be read (root, and the binary installed). */
  readonly read: readonly ('iptables' | 'nft')[];
  /** Why a tool could not be read. */
  readonly unreadable: Readonly<Record<string, string>>;
  readonly drops: readonly DroppingRule[];
  readonly policyDrops: readonly PolicyDrop[];
}

/** Whether a port spec (`50001`, `50000:50010`, `50000-50010`, `53,50001`) covers `port`. */
export function portSpecCovers(spec: string, port: number): boolean {
  return spec
    .replace(/[{}\s]/g, '')
    .split(',')
    .some((part) => {
      const range = /^(\d+)[:-](\d+)$/.exec(part);
      if (range !== null) return Number(range[1]) <= port && port <= Number(range[2]);
      return /^\d+$/.test(part) && Number(part) === port;
    });
}

const directionOfChain = (chain: string): 'in' | 'out' | undefined => (chain === 'INPUT' ? 'in' : chain === 'OUTPUT' ? 'out' : undefined);

/**
 * iptables-save text: in the filter table, rules of INPUT and OUTPUT (and of user chains they jump
 * to) that drop UDP to `port`, in order, stopping at an unconditional ACCEPT of it; and a DROP
 * policy not preceded by such an ACCEPT.
 */
export function parseIptablesSave(text: string, port: number): { drops: DroppingRule[]; policyDrops: PolicyDrop[] } {
  const chains = new Map<string, string[]>();
  const policies = new Map<string, string>();
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) table = line.slice(1);
    if (table !== 'filter') continue;
    const policy = /^:(\S+)\s+(\S+)/.exec(line);
    if (policy !== null) policies.set(policy[1]!, policy[2]!);
    const rule = /^-A\s+(\S+)\s+(.*)$/.exec(line);
    if (rule !== null) chains.set(rule[1]!, [...(chains.get(rule[1]!) ?? []), line]);
  }
  const drops: DroppingRule[] = [];
  const policyDrops: PolicyDrop[] = [];
  const walk = (chain: string, direction: 'in' | 'out', seen: Set<string>): 'accepted' | undefined => {
    if (seen.has(chain)) return undefined;
    seen.add(chain);
    for (const line of chains.get(chain) ?? []) {
      const words = line.split(/\s+/);
      if (words.includes('!')) continue; // negations: not read
      const protocol = words[words.indexOf('-p') + 1];
      if (words.includes('-p') && protocol !== 'udp' && protocol !== 'all') continue;
      const dport = words.includes('--dport') ? words[words.indexOf('--dport') + 1] : words.includes('--dports') ? words[words.indexOf('--dports') + 1] : undefined;
      if (dport !== undefined && !portSpecCovers(dport, port)) continue;
      const target = words.includes('-j') ? words[words.indexOf('-j') + 1] : undefined;
      const conditional = ['-s', '-d', '-i', '-o', '--sport', '--sports', '--state', '--ctstate'].some((flag) => words.includes(flag));
      if (target === 'ACCEPT') {
        if (!conditional) return 'accepted';
        continue;
      }
      if (target === 'DROP' || target === 'REJECT') {
        drops.push({ tool: 'iptables', chain, direction, rule: line, conditional, remove: `iptables ${line.replace(/^-A /, '-D ')}` });
        if (!conditional) return undefined;
        continue;
      }
      if (target !== undefined && chains.has(target) && walk(target, direction, seen) === 'accepted') return 'accepted';
    }
    return undefined;
  };
  for (const chain of ['INPUT', 'OUTPUT']) {
    const direction = directionOfChain(chain)!;
    const before = drops.length;
    const verdict = walk(chain, direction, new Set());
    if (verdict === undefined && drops.length === before && policies.get(chain) === 'DROP') policyDrops.push({ tool: 'iptables', chain, direction });
  }
  return { drops, policyDrops };
}

/**
 * `nft -a list ruleset` text: in chains hooked on input or output, rules with a drop or reject
 * verdict matching UDP to `port` (`udp dport 50001`, sets, ranges, `meta l4proto udp`), and a
 * `policy drop` with no earlier rule accepting the port.
 */
export function parseNftRuleset(text: string, port: number): { drops: DroppingRule[]; policyDrops: PolicyDrop[] } {
  const drops: DroppingRule[] = [];
  const policyDrops: PolicyDrop[] = [];
  let family = '';
  let table = '';
  let chain = '';
  let direction: 'in' | 'out' | undefined;
  let policyDrop = false;
  let accepted = false;
  const closeChain = () => {
    if (direction !== undefined && policyDrop && !accepted) policyDrops.push({ tool: 'nft', chain: `${family} ${table} ${chain}`, direction });
    direction = undefined;
    policyDrop = false;
    accepted = false;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const tableMatch = /^table\s+(\S+)\s+(\S+)\s*\{/.exec(line);
    if (tableMatch !== null) [family, table] = [tableMatch[1]!, tableMatch[2]!];
    const chainMatch = /^chain\s+(\S+)\s*\{/.exec(line);
    if (chainMatch !== null) {
      closeChain();
      chain = chainMatch[1]!;
    }
    const hook = /type\s+filter\s+hook\s+(input|output)\b/.exec(line);
    if (hook !== null) {
      direction = hook[1] === 'input' ? 'in' : 'out';
      policyDrop = /policy\s+drop/.test(line);
      continue;
    }
    if (line === '}') {
      closeChain();
      continue;
    }
    if (direction === undefined || chainMatch !== null) continue;
    const dport = /\budp\s+dport\s+(\{[^}]*\}|\S+)/.exec(line);
    const allUdp = /\b(?:meta\s+l4proto|ip\s+protocol)\s+udp\b/.test(line) && !/\bdport\b/.test(line);
    if (!(dport !== null ? portSpecCovers(dport[1]!, port) : allUdp)) continue;
    const conditional = /\b(?:saddr|daddr|iifname|oifname|iif|oif|sport|ct\s+state)\b/.test(line);
    if (/\baccept\b/.test(line) && !conditional) accepted = true;
    if (accepted || !/\b(?:drop|reject)\b/.test(line)) continue;
    const handle = /#\s*handle\s+(\d+)/.exec(line)?.[1];
    drops.push({
      tool: 'nft',
      chain: `${family} ${table} ${chain}`,
      direction,
      rule: line.replace(/\s*#\s*handle\s+\d+/, ''),
      conditional,
      remove: handle === undefined ? `nft delete rule ${family} ${table} ${chain} handle <its handle: nft -a list chain ${family} ${table} ${chain}>` : `nft delete rule ${family} ${table} ${chain} handle ${handle}`,
    });
  }
  closeChain();
  return { drops, policyDrops };
}

function run(command: string, args: readonly string[]): Promise<{ ok: true; stdout: string } | { ok: false; why: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 3_000, maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) return resolve({ ok: true, stdout });
      const code = (error as NodeJS.ErrnoException).code;
      resolve({ ok: false, why: code === 'ENOENT' ? `${command} is not installed` : (stderr.trim().split('\n')[0] ?? error.message) || error.message });
    });
  });
}

/** Reads both tools and parses them for `port`. Nothing is changed. */
export async function readFirewall(port: number): Promise<FirewallReading> {
  const [iptables, nft] = await Promise.all([run('iptables-save', ['-t', 'filter']), run('nft', ['-a', 'list', 'ruleset'])]);
  const read: ('iptables' | 'nft')[] = [];
  const unreadable: Record<string, string> = {};
  const drops: DroppingRule[] = [];
  const policyDrops: PolicyDrop[] = [];
  if (iptables.ok) {
    read.push('iptables');
    const parsed = parseIptablesSave(iptables.stdout, port);
    drops.push(...parsed.drops);
    policyDrops.push(...parsed.policyDrops);
  } else unreadable.iptables = iptables.why;
  if (nft.ok) {
    read.push('nft');
    const parsed = parseNftRuleset(nft.stdout, port);
    // iptables-nft's rules show up in nft too (tables `ip filter`): report them once, as iptables.
    const fromIptables = (rule: { chain: string }) => iptables.ok && /^ip6? filter (INPUT|OUTPUT)$/.test(rule.chain);
    drops.push(...parsed.drops.filter((rule) => !fromIptables(rule)));
    policyDrops.push(...parsed.policyDrops.filter((policy) => !fromIptables(policy)));
  } else unreadable.nft = nft.why;
  return { read, unreadable, drops, policyDrops };
}

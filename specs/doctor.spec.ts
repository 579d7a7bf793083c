/**
 * The doctor's readers (/proc/net/udp, iptables-save, nft), its endpoint and clock rules, and one
 * real run on loopback against an in-process provider (requests only to 127.255.255.255; the
 * faults themselves are made in network namespaces: doctor.netns.slow.spec.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { trustDefaults } from '../machines/discovery/trust.js';
import { runDoctor } from '../runtime/doctor/doctor.js';
import { hostKindOf } from '../runtime/doctor/endpoints.js';
import { hasErrors, renderReport } from '../runtime/doctor/findings.js';
import { parseIptablesSave, parseNftRuleset, portSpecCovers } from '../runtime/doctor/firewall.js';
import { answerFindings, clockFindings, trustFindings } from '../runtime/doctor/heard.js';
import type { Heard } from '../runtime/doctor/probe.js';
import { parseUdpTable } from '../runtime/doctor/procNet.js';
import { createProvider, type Provider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { sampleAdvertisement } from './support/discoveryFixtures.js';
import { allocatePort } from './support/ports.js';

describe('/proc/net/udp', () => {
  it('reads address, port, uid and inode of each socket, IPv4 and IPv6', () => {
    const v4 = [
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
      ' 1123: 00000000:C351 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81234 2 0000000000000000 0',
      ' 1124: 0100007F:A0D2 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 81235 2 0000000000000000 0',
      'garbage line',
    ].join('\n');
    expect(parseUdpTable(v4, true)).toEqual([
      { localAddress: '0.0.0.0', localPort: 50_001, uid: 0, inode: 81_234 },
      { localAddress: '127.0.0.1', localPort: 41_170, uid: 1000, inode: 81_235 },
    ]);
    const v6 = [
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
      '  10: 00000000000000000000000001000000:C351 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 90001 2 0000000000000000 0',
      '  11: 00000000000000000000000000000000:C351 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 90002 2 0000000000000000 0',
    ].join('\n');
    expect(parseUdpTable(v6, true).map((entry) => entry.localAddress)).toEqual(['::1', '::']);
  });
});

describe('firewall rules', () => {
  it('port specs: single, ranges (: and -), lists and sets', () => {
    expect(portSpecCovers('50001', 50_001)).toBe(true);
    expect(portSpecCovers('50000:50010', 50_001)).toBe(true);
    expect(portSpecCovers('50002-50010', 50_001)).toBe(false);
    expect(portSpecCovers('53,50001', 50_001)).toBe(true);
    expect(portSpecCovers('{ 53, 50000-50005 }', 50_001)).toBe(true);
    expect(portSpecCovers('5000', 50_001)).toBe(false);
  });

  it('iptables-save: drops of the port in INPUT and OUTPUT, in order, up to an accept', () => {
    const text = `*nat
-A PREROUTING -p udp --dport 50001 -j DROP
COMMIT
*filter
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s 10.0.0.0/8 -p udp -m udp --dport 50001 -j DROP
-A INPUT -p udp -m multiport --dports 53,50000:50010 -j REJECT --reject-with icmp-port-unreachable
-A INPUT -p tcp --dport 50001 -j DROP
-A INPUT -p udp ! --dport 50001 -j DROP
-A OUTPUT -p udp --dport 50001 -j ACCEPT
-A OUTPUT -p udp --dport 50001 -j DROP
COMMIT`;
    const { drops, policyDrops } = parseIptablesSave(text, 50_001);
    expect(drops.map((drop) => [drop.chain, drop.conditional, drop.rule])).toEqual([
      ['INPUT', true, '-A INPUT -s 10.0.0.0/8 -p udp -m udp --dport 50001 -j DROP'],
      ['INPUT', false, '-A INPUT -p udp -m multiport --dports 53,50000:50010 -j REJECT --reject-with icmp-port-unreachable'],
    ]);
    expect(drops[1]?.remove).toBe('iptables -D INPUT -p udp -m multiport --dports 53,50000:50010 -j REJECT --reject-with icmp-port-unreachable');
    expect(policyDrops).toEqual([]);
  });

  it('iptables-save: a DROP policy with no accept for the port, followed into user chains', () => {
    const text = `*filter
:INPUT DROP [0:0]
:OUTPUT DROP [0:0]
:LAN - [0:0]
-A INPUT -p tcp --dport 22 -j ACCEPT
-A OUTPUT -j LAN
-A LAN -p udp --dport 50001 -j ACCEPT
COMMIT`;
    expect(parseIptablesSave(text, 50_001).policyDrops).toEqual([{ tool: 'iptables', chain: 'INPUT', direction: 'in' }]);
  });

  it('nft: drops in input/output hooks with their handles; a policy drop unless accepted first', () => {
    const text = `table inet filter { # handle 4
	chain input { # handle 1
		type filter hook input priority filter; policy drop;
		tcp dport 22 accept # handle 5
		udp dport { 53, 50000-50010 } counter packets 0 bytes 0 drop # handle 6
	}
	chain output { # handle 2
		type filter hook output priority filter; policy drop;
		udp dport 50001 accept # handle 7
	}
	chain forward { # handle 3
		type filter hook forward priority filter; policy drop;
		udp dport 50001 drop # handle 8
	}
}
table ip other { # handle 9
	chain in { # handle 1
		type filter hook input priority 10; policy accept;
		iifname "wlan0" meta l4proto udp reject # handle 2
	}
}`;
    const { drops, policyDrops } = parseNftRuleset(text, 50_001);
    expect(drops.map((drop) => [drop.chain, drop.direction, drop.conditional, drop.remove])).toEqual([
      ['inet filter input', 'in', false, 'nft delete rule inet filter input handle 6'],
      ['ip other in', 'in', true, 'nft delete rule ip other in handle 2'],
    ]);
    expect(policyDrops).toEqual([{ tool: 'nft', chain: 'inet filter input', direction: 'in' }]);
  });
});

describe('the nft ruleset as nft prints it', () => {
  it('a chain ends at its closing brace: a policy drop is named by its own table, not the next one', () => {
    // The layout of `nft -a list ruleset` (nftables 1.0): a blank line between chains, none between tables.
    const text = `table inet filter { # handle 1
	chain output { # handle 2
		type filter hook output priority filter; policy accept;
	}

	chain input { # handle 1
		type filter hook input priority filter; policy drop;
	}
}
table ip other { # handle 2
	chain in { # handle 1
		type filter hook input priority filter + 10; policy accept;
	}
}`;
    const { drops, policyDrops } = parseNftRuleset(text, 50_001);
    expect(drops).toEqual([]);
    expect(policyDrops).toEqual([{ tool: 'nft', chain: 'inet filter input', direction: 'in' }]);
  });
});

describe('what was heard', () => {
  const heard = (overrides: Partial<Heard> & { skewMs?: number }): Heard => {
    const receivedAtMs = 1_751_456_705_000;
    return {
      from: { host: '10.0.4.17', port: 40_000 },
      on: 'own',
      receivedAtMs,
      advertisement: sampleAdvertisement({ timestamp: receivedAtMs + (overrides.skewMs ?? 0) }),
      answersTarget: 0,
      proof: { kind: 'unsigned' },
      ...overrides,
    };
  };

  it('loopback and unspecified hosts are told apart from others', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'].map(hostKindOf)).toEqual(Array(6).fill('loopback'));
    expect(['0.0.0.0', '::', '[::]'].map(hostKindOf)).toEqual(Array(3).fill('unspecified'));
    expect(['10.0.0.1', 'printer.local', '128.0.0.1'].map(hostKindOf)).toEqual(Array(3).fill('other'));
  });

  it('clock skew: a warning per host beyond the threshold, the largest one per host', () => {
    expect(clockFindings([heard({ skewMs: 300 })], 1_000)).toMatchObject([{ id: 'clock', severity: 'ok' }]);
    const findings = clockFindings([heard({ skewMs: -4_200 }), heard({ skewMs: -100 }), heard({ from: { host: '10.0.4.18', port: 1 }, skewMs: 50 })], 1_000);
    expect(findings).toMatchObject([{ id: 'clock.skew', severity: 'warning', title: 'the clock of 10.0.4.17 is 4.2 s behind this host (from its advertisements\' timestamps)' }]);
  });

  it("trust: what a client with the same options would ignore, and why", () => {
    const unsigned = heard({});
    expect(trustFindings([unsigned], trustDefaults)).toMatchObject([{ id: 'trust.ignored', severity: 'error', data: { reason: 'unsigned' } }]);
    expect(trustFindings([unsigned], { ...trustDefaults, allowUnsigned: true })).toEqual([]);
    expect(trustFindings([heard({ proof: { kind: 'invalid', reason: 'the signature does not verify' } })], trustDefaults)).toMatchObject([
      { data: { reason: 'badSignature' }, fix: 'the datagram was altered or forged' },
    ]);
  });

  it('answers: none is an error; heard only by heartbeat is said', () => {
    expect(answerFindings([], [], 50_001, 1_500)).toMatchObject([{ id: 'answers.none', severity: 'error' }]);
    const target = { host: '127.255.255.255', port: 50_001, label: '127.255.255.255 (lo)' };
    const findings = answerFindings([heard({ answersTarget: undefined, on: 'shared' })], [target], 50_001, 1_500);
    expect(findings.map((finding) => finding.id)).toEqual(['answers', 'answers.heartbeatOnly']);
    expect(findings[0]?.detail).toEqual(['ImageProcessingService 1.2.0 at ws://10.0.4.17:8080 (Online), from 10.0.4.17:40000, heartbeat, unsigned']);
  });
});

describe('a real run on loopback', () => {
  let provider: Provider;
  let port = 0;

  beforeAll(async () => {
    port = await allocatePort();
    const noop = defineService({ name: 'Noop', version: '1.0.0', operations: { noop: { params: z.object({}), run: () => null } } });
    provider = createProvider({ services: [noop], host: '127.0.0.1', discovery: { port, broadcastAddresses: ['127.255.255.255'] }, log: () => {} });
    await provider.start();
  });
  afterAll(() => provider.stop());

  it('finds the provider, its socket on the port, a reachable endpoint, and no error', async () => {
    const report = await runDoctor({ port, broadcastAddresses: ['127.255.255.255'], listenMs: 400, firewall: false });
    expect(hasErrors(report)).toBe(false);
    const ids = report.findings.map((finding) => finding.id);
    expect(ids).toEqual(expect.arrayContaining(['port.shared', 'broadcast.echo', 'answers', 'endpoint.reachable', 'clock']));
    expect(report.findings.find((finding) => finding.id === 'port.shared')?.detail?.[0]).toMatch(new RegExp(`^0\\.0\\.0\\.0:${port} pid ${process.pid} `));
    expect(report.targets).toEqual(['127.255.255.255 (lo)']);
    const text = renderReport(report);
    expect(text).toMatch(/^switchboard doctor: discovery UDP \d+, requests to 127\.255\.255\.255 \(lo\), listened 400 ms$/m);
    expect(text).toMatch(/^ok {4}Noop at ws:\/\/127\.0\.0\.1:\d+ is reachable/m);
    expect(text.trimEnd().split('\n').at(-1)).toBe('0 error(s), 0 warning(s)');
  });
});

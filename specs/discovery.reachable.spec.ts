/**
 * The endpoint a client reaches for an unsigned advertisement (machines/discovery/reachable.ts):
 * a loopback or unspecified host heard from another host stands for that host; anything else is
 * left as written. Examples first, then a property over generated endpoints and sources.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, isUnspecifiedHost, reachableEndpoint } from '../machines/discovery/reachable.js';

describe('reachableEndpoint (DISC-19)', () => {
  it.each([
    ['ws://localhost:8080', '192.168.1.20', 'ws://192.168.1.20:8080'],
    ['ws://127.0.1.1:8080/tasks?x=1', '10.0.0.7', 'ws://10.0.0.7:8080/tasks?x=1'],
    ['ws://0.0.0.0:9000', '10.0.0.7', 'ws://10.0.0.7:9000'],
    ['wss://[::]:9443', '10.0.0.7', 'wss://10.0.0.7:9443'],
    ['ws://[::1]:8080', 'fe80::1', 'ws://[fe80::1]:8080'],
    ['ws://localhost:8080', '::ffff:10.1.2.3', 'ws://10.1.2.3:8080'],
  ])('%s heard from %s is %s', (endpoint, source, expected) => {
    expect(reachableEndpoint(endpoint, source)).toBe(expected);
  });

  it.each([
    ['ws://localhost:8080', '127.0.0.1', 'heard on this machine: reachable as written'],
    ['ws://0.0.0.0:8080', '::1', 'heard on this machine'],
    ['ws://192.168.1.20:8080', '10.0.0.7', 'a real host: the provider knows best (a NAT, several interfaces)'],
    ['ws://printer.local:8080', '10.0.0.7', 'a name'],
    ['nats://switchboard/printer', '10.0.0.7', 'not a WebSocket endpoint'],
  ])('%s heard from %s stays (%s)', (endpoint, source) => {
    expect(reachableEndpoint(endpoint, source)).toBe(endpoint);
  });

  it('recognises loopback and unspecified hosts in every spelling the wire may carry', () => {
    expect(['localhost', 'LOCALHOST', '127.0.0.1', '127.255.0.3', '::1', '[::1]', '::ffff:127.0.0.1'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '[::]'].every(isUnspecifiedHost)).toBe(true);
    expect(['10.0.0.1', '128.0.0.1', 'localhost.example', '1.2.3.4'].some(isLoopbackHost)).toBe(false);
  });

  it('property: the result is the endpoint itself, or it with only the host replaced by a non-local source', () => {
    const host = fc.oneof(fc.constantFrom('localhost', '127.0.0.1', '0.0.0.0', '[::]', '[::1]', 'example.org'), fc.ipV4().map(String));
    const rest = fc.tuple(fc.integer({ min: 1, max: 65_535 }), fc.constantFrom('', '/', '/a/b', '?t=1')).map(([port, tail]) => `:${port}${tail}`);
    fc.assert(
      fc.property(fc.constantFrom('ws://', 'wss://'), host, rest, fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('127.0.0.1', '::1')), (scheme, advertised, tail, source) => {
        const endpoint = `${scheme}${advertised}${tail}`;
        const result = reachableEndpoint(endpoint, source);
        if (result === endpoint) return;
        expect(isLoopbackHost(advertised) || isUnspecifiedHost(advertised)).toBe(true);
        expect(isLoopbackHost(source) || isUnspecifiedHost(source)).toBe(false);
        expect(result.startsWith(scheme)).toBe(true);
        expect(result.endsWith(tail)).toBe(true);
        expect(new URL(result).hostname.replace(/^\[|\]$/g, '')).toBeTruthy();
      }),
    );
  });
});

/**
 * Optional peers (adapters/optionalPeer.ts): a feature whose package is missing says which package
 * to install; a package that is there loads; a package that is there but broken (one of its own
 * imports missing) is reported as it is, not as "not installed". The installed-package view
 * (nothing but the library's own dependencies) is specs/package.install.slow.spec.ts.
 */
import { describe, expect, it } from 'vitest';
import { assertPeerInstalled, importPeer, isMissingPackage, MissingPeerError, requirePeer } from '../adapters/optionalPeer.js';

const ABSENT = 'switchboard-no-such-package';

describe('optional peers', () => {
  it('names the missing package and the feature, synchronously and asynchronously', async () => {
    expect(() => assertPeerInstalled(ABSENT, 'Widgets')).toThrow(new MissingPeerError(ABSENT, 'Widgets'));
    expect(() => requirePeer(ABSENT, 'Widgets')).toThrow(`Widgets needs ${ABSENT}, which is not installed: run \`npm install ${ABSENT}\``);
    const failure = await importPeer(ABSENT, 'Widgets', () => import(ABSENT)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MissingPeerError);
    expect(failure).toMatchObject({ packageName: ABSENT, feature: 'Widgets', code: 'MISSING_PEER_DEPENDENCY' });
  });

  it('loads a package that is installed (CommonJS synchronously, ES modules by import)', async () => {
    expect(() => assertPeerInstalled('prom-client', 'metrics')).not.toThrow();
    expect(typeof requirePeer<{ Registry: unknown }>('prom-client', 'metrics').Registry).toBe('function');
    const stately = await importPeer('@statelyai/inspect', 'inspector', () => import('@statelyai/inspect'));
    expect(typeof stately.createInspector).toBe('function');
  });

  it('calls only the package\'s own absence missing: a missing dependency of it, or an error while loading, passes through', async () => {
    const resolution = await import(ABSENT).catch((error: unknown) => error);
    expect(isMissingPackage(resolution, ABSENT)).toBe(true);
    const dependencyMissing = Object.assign(new Error("Cannot find package 'tdigest' imported from /app/node_modules/prom-client/lib/summary.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    expect(isMissingPackage(dependencyMissing, 'prom-client')).toBe(false);
    await expect(importPeer('prom-client', 'metrics', () => Promise.reject(dependencyMissing))).rejects.toBe(dependencyMissing);
    const broken = new Error('boom');
    await expect(importPeer('prom-client', 'metrics', () => Promise.reject(broken))).rejects.toBe(broken);
  });
});

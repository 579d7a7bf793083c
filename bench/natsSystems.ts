/**
 * The two systems of the NATS comparison, on the same nats-server: switchboard over its NATS
 * adapter (NATS only: discovery on subjects, task connections on subjects) and Moleculer 0.15
 * with its NATS transporter (the `nats` 2.x client it supports). Same trivial operation as the
 * LAN comparison (bench/systems.ts): answers `{ ok: true }` at once.
 */
import { ServiceBroker, type BrokerOptions } from 'moleculer';
import { SERVICE_NAME, within } from './common.js';
import { benchService, createClient, createProvider, throughputLimits, type Caller } from './systems.js';

import type { NatsSystem } from './natsCommon.js';

export { isNatsSystem, natsSystems, type NatsSystem } from './natsCommon.js';

/** Subjects of the benchmark deployment (not the default prefix, so nothing else is disturbed). */
const SUBJECT_PREFIX = 'switchboard-bench';

export async function startNatsServer(system: NatsSystem, url: string): Promise<() => Promise<void>> {
  if (system === 'switchboard-nats') {
    const provider = createProvider({ services: [benchService], lan: false, nats: { servers: url, subjectPrefix: SUBJECT_PREFIX }, limits: throughputLimits });
    await provider.start();
    return () => within(provider.stop(), 5_000, 'switchboard provider stop');
  }
  const broker = natsBroker(`bench-server-${process.pid}`, url);
  broker.createService({ name: 'bench', actions: { echo: () => ({ ok: true }) } });
  await broker.start();
  return () => within(broker.stop(), 5_000, 'moleculer broker stop');
}

export async function natsCaller(system: NatsSystem, url: string): Promise<Caller> {
  if (system === 'switchboard-nats') {
    const client = createClient({ lan: false, nats: { servers: url, subjectPrefix: SUBJECT_PREFIX } });
    await client.waitFor(SERVICE_NAME, { operation: 'echo', timeoutMs: 10_000 });
    return { call: () => client.assign(SERVICE_NAME, 'echo', {}).result, close: () => within(client.stop(), 5_000, 'switchboard client stop') };
  }
  const broker = natsBroker(`bench-client-${process.pid}`, url);
  await broker.start();
  await broker.waitForServices('bench', 30_000, 10);
  return { call: () => broker.call('bench.echo', {}), close: () => within(broker.stop(), 5_000, 'moleculer broker stop') };
}

function natsBroker(nodeID: string, url: string): ServiceBroker {
  const options: BrokerOptions = { nodeID, logger: false, namespace: 'sbbench', transporter: { type: 'NATS', options: { url } } };
  return new ServiceBroker(options);
}

/** Shared by the repository and repository-entry specs: an advertisement factory, a recording actor, a repository on a fake socket. */
import { createActor, fromCallback, SimulatedClock, type ActorRef, type EventObject } from 'xstate';
import type { ServiceAdvertisement } from '../../machines/messages.js';
import { repositoryDefaults, repositoryMachine, servicesOf, type RepositoryInput, type RepositoryToParentEvent } from '../../machines/repository.js';
import type { DatagramCommand, DatagramEvent } from '../../machines/transport.js';

export function sampleAdvertisement(overrides: Partial<ServiceAdvertisement> = {}): ServiceAdvertisement {
  return {
    discoveryType: 'ServiceAdvertisement',
    serviceId: 'svc-1',
    serviceName: 'ImageProcessingService',
    serviceVersion: '1.2.0',
    endpoint: 'ws://10.0.4.17:8080',
    capabilities: [{ key: 'resizeImage', settings: [{ type: 'int', name: 'width' }] }],
    status: 'Online',
    load: 0,
    timestamp: 1_751_456_705_000,
    ...overrides,
  };
}

/** A real actor (so `sendTo` can reach it) that records every event it receives. */
export function recorder<E extends EventObject>() {
  const events: E[] = [];
  const actor = createActor(
    fromCallback<E>(({ receive }) => {
      receive((event) => {
        events.push(event);
      });
    }),
  ).start();
  return { ref: actor as unknown as ActorRef<any, E>, events };
}

/** A fake discovery socket: records the commands it is sent, and lets the test deliver events. */
export function fakeDiscovery() {
  const sent: DatagramCommand[] = [];
  let deliver: ((event: DatagramEvent) => void) | undefined;
  const logic = fromCallback<DatagramCommand>(({ receive, sendBack }) => {
    deliver = sendBack;
    receive((command) => {
      sent.push(command);
    });
  });
  return {
    logic,
    sent,
    push(event: DatagramEvent) {
      if (deliver === undefined) throw new Error('the discovery transport was not started');
      deliver(event);
    },
  };
}

/** A repository (client 'client-A', repositoryDefaults unless overridden) on a fake discovery socket and a SimulatedClock. */
export function startRepositoryWith(options: Partial<Omit<RepositoryInput, 'parentRef'>> = {}) {
  const clock = new SimulatedClock();
  const discovery = fakeDiscovery();
  const parent = recorder<RepositoryToParentEvent>();
  const actor = createActor(repositoryMachine.provide({ actors: { discovery: discovery.logic } }), {
    clock,
    input: { clientId: 'client-A', ...repositoryDefaults, ...options, parentRef: parent.ref },
  }).start();
  const services = () => servicesOf(actor.getSnapshot().context);
  const entryIds = () => Object.keys(actor.getSnapshot().children).filter((id) => id.startsWith('entry:'));
  return { clock, actor, discovery, changes: parent.events, services, entryIds };
}

/** Shared by the repository and repository-entry specs: an advertisement factory and a recording actor. */
import { createActor, fromCallback, type ActorRef, type EventObject } from 'xstate';
import type { ServiceAdvertisement } from '../../machines/messages.js';

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

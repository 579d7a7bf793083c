import { describe, expect, it } from 'vitest';
import { World } from './support/world.js';

describe('a switchboard network on the simulated network', () => {
  it('DISC-4, DISC-8: a client knows a provider from its start-up advertisement, long before a heartbeat', () => {
    const world = new World({ seed: 1 });
    const client = world.startClient('10.0.0.2');
    world.run(10);
    world.startProvider('10.0.0.1');
    world.run(50);
    const services = client.actor.getSnapshot().context.services;
    expect(services.map((service) => service.serviceName)).toEqual(['Work']);
    expect(services[0]?.endpoint).toBe('ws://10.0.0.1:8080');
    world.stopAll();
  });

  it('TASK-2, TASK-9, TASK-10: a task runs with progress to a result', () => {
    const world = new World({ seed: 2 });
    const provider = world.startProvider('10.0.0.1');
    const client = world.startClient('10.0.0.2');
    world.run(100);
    world.assign(client, { taskId: 't1', params: { steps: 4, stepMs: 100 } });
    world.run(2_000);
    expect(client.settled.get('t1')).toEqual([{ status: 'Completed', resultData: { steps: 4 } }]);
    // The Ack (status Processing) and the provider's first TaskStatusUpdate both report 0.
    expect(client.progress.get('t1')).toEqual([0, 0, 25, 50, 75, 100]);
    expect(provider.probe.runsOf(client.clientId, 't1')).toHaveLength(1);
    world.stopAll();
  });
});

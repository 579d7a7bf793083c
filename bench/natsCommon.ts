/** The systems of the NATS comparison (no imports: the orchestrator loads this before the build exists). */
export const natsSystems = ['switchboard-nats', 'moleculer-nats'] as const;
export type NatsSystem = (typeof natsSystems)[number];
export const isNatsSystem = (value: unknown): value is NatsSystem => typeof value === 'string' && (natsSystems as readonly string[]).includes(value);

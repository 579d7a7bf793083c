/**
 * Inputs of the machine-level benches (engine.ts, micro.ts): kept apart from common.ts so the
 * baseline systems' processes, which import common.ts, do not load the machines.
 */
import { clientTaskDefaults } from '../machines/clientTask.js';
import { SERVICE_NAME } from './common.js';

/** The input of one trivial client task (operation `echo` of the bench service). */
export function clientTaskInput<TParent>(clientId: string, i: number, parentRef: TParent) {
  return { clientId, taskId: `t${i}`, messageId: `m${i}`, serviceName: SERVICE_NAME, operation: 'echo', params: {}, ...clientTaskDefaults, parentRef };
}

/**
 * `--inspect` for the commands that run actors: the `inspect` option of createClient and
 * createProvider, printing the Stately inspector page to open on stderr (whatever --log-level).
 */
import type { InspectOption } from '../inspect/observation.js';
import type { GlobalOptions } from './options.js';
import { line, type Io } from './output.js';

export function inspectOptionOf(globals: GlobalOptions, io: Io): { inspect?: InspectOption } {
  if (globals.inspect === undefined) return {};
  let announced = false;
  return {
    inspect: {
      stately: {
        ...globals.inspect.stately,
        onReady: (pageUrl) => {
          if (announced) return;
          announced = true;
          line(io.stderr, `Stately inspector: open ${pageUrl} (it shows this process's actors; keep it open while the command runs)`);
        },
      },
    },
  };
}

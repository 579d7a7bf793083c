#!/usr/bin/env node
// The switchboard CLI. Sources are TypeScript; tsx compiles them on the fly so a fresh clone
// runs after `npm install` with no build step. Both of tsx's hooks are registered so that
// `provider --service x.ts` loads TypeScript whether x.ts sits in an ES module package or not.
import { register } from 'tsx/esm/api';
import { register as registerCommonJs } from 'tsx/cjs/api';

register();
registerCommonJs();
const { main } = await import('../runtime/cli.ts');
const code = await main(process.argv);
process.exitCode = code;
// Every command closes what it opened before main resolves; should a socket or timer linger
// anyway, it must not keep the process alive (the timer itself does not hold it).
setTimeout(() => process.exit(code), 1_000).unref();

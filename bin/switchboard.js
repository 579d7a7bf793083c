#!/usr/bin/env node
// The switchboard CLI. Sources are TypeScript; tsx compiles them on the fly so a fresh clone
// runs after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../runtime/cli.ts');
process.exitCode = await main(process.argv);

#!/usr/bin/env node
// The switchboard CLI: the compiled JavaScript in dist/ (built by `npm run build`, shipped in the
// package), run by plain node; TypeScript is loaded (by tsx) only for a .ts --service module or
// config file.
// Output piped into a reader that stopped early (`switchboard --help | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
}
let cli;
try {
  cli = await import('../dist/runtime/cli.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist')) throw error;
  process.stderr.write('switchboard: dist/ is missing; run `npm run build` (or `npm install`, which builds it) first\n');
  process.exit(1);
}
const code = await cli.main(process.argv);
process.exitCode = code;
// Every command closes what it opened before main resolves; should a socket or timer linger
// anyway, it must not keep the process alive (the timer itself does not hold it).
setTimeout(() => process.exit(code), 1_000).unref();

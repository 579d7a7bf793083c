/**
 * The layering check (STYLE: "machines/ knows nothing about I/O"): the real tree passes, every
 * forbidden thing is caught, and words in comments, strings and regexes are not.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { checkSource, checkTree, sourceFiles } from './tools/layering.mjs';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const toolsDir = fileURLToPath(new URL('./tools/', import.meta.url));
const rulesOf = (path: string, text: string) => checkSource(path, text).map((violation) => violation.rule);

describe('layering: the repository', () => {
  it('finds no violation in machines/ and adapters/', () => {
    expect(sourceFiles(repoRoot)).toContain('machines/codec.ts');
    expect(checkTree(repoRoot)).toEqual([]);
  });

  it('passes as the npm run layering CLI, printing the file count', () => {
    const output = execFileSync(process.execPath, [join(toolsDir, 'check-layering.mjs')], { encoding: 'utf8' });
    expect(output).toMatch(/^layering: \d+ files checked, no violations$/m);
  });
});

describe('layering: machines/ rules', () => {
  it.each([
    ["import { readFileSync } from 'node:fs';", 'no-node-builtin'],
    ["import type { Socket } from 'node:dgram';", 'no-node-builtin'],
    ["import * as fs from 'fs';", 'no-node-builtin'],
    ["import { join } from 'path';", 'no-node-builtin'],
    ["import { readFile } from 'fs/promises';", 'no-node-builtin'],
    ["export { createSocket } from 'dgram';", 'no-node-builtin'],
    ["const net = await import('net');", 'no-node-builtin'],
    ["import WebSocket from 'ws';", 'no-ws'],
    ["import { send } from '../runtime/x.js';", 'no-runtime-import'],
    ["import { udp } from '../adapters/x.js';", 'no-adapters-import'],
    ["import { helper } from '../specs/support/x.js';", 'no-import-outside-machines'],
    ["import { v4 } from 'uuid';", 'allowed-packages'],
    ["import { Command } from 'commander';", 'allowed-packages'],
    ["import '@xstate/store';", 'allowed-packages'],
    ['const now = Date.now();', 'no-date'],
    ['const when = new Date();', 'no-date'],
    ['const text = Date();', 'no-date'],
    ['const now = globalThis.Date.now();', 'no-date'],
    ['let at: Date | undefined;', 'no-date'],
    ['const roll = Math.random();', 'no-math-random'],
    ['setTimeout(() => tick(), 10);', 'no-timers'],
    ['const id = setInterval(tick, 10);', 'no-timers'],
    ['setImmediate(tick);', 'no-timers'],
    ['queueMicrotask(tick);', 'no-timers'],
    ['const home = process.env.HOME;', 'no-process'],
    ['const t = performance.now();', 'no-performance'],
    ["console.log('hello');", 'no-console'],
    ['const message = `now ${Date.now()}`;', 'no-date'],
  ])('reports %s as %s', (snippet, rule) => {
    expect(rulesOf('machines/example.ts', snippet)).toEqual([rule]);
  });

  it('reports the file, line and column of each violation', () => {
    const text = "import * as z from 'zod';\n\nexport const f = () =>\n  Date.now();\n";
    expect(checkSource('machines/clock.ts', text)).toEqual([
      { file: 'machines/clock.ts', line: 4, column: 3, rule: 'no-date', message: expect.stringContaining('Date') },
    ]);
  });

  it('allows xstate, zod, their subpaths, and relative imports within machines/', () => {
    const text = [
      "import { setup, assign } from 'xstate';",
      "import * as z from 'zod';",
      "import { z as z4 } from 'zod/v4';",
      "import { ProtocolError } from './errors.js';",
      "import type { Setting } from './nested/../capabilities.js';",
      "export * from './codec.js';",
    ].join('\n');
    expect(checkSource('machines/example.ts', text)).toEqual([]);
    expect(checkSource('machines/deep/example.ts', "import { x } from '../errors.js';")).toEqual([]);
  });

  it('does not report forbidden words inside comments', () => {
    const text = [
      "// import fs from 'node:fs'; Date.now(); setTimeout(f, 1)",
      '/* new Date(); Math.random(); console.log(x) */',
      '/**',
      ' * Machines must not call `Date.now()` or `setTimeout`; process.env is the runtime\'s.',
      " * @example import WebSocket from 'ws';",
      ' */',
      'export const x = 1; // performance.now()',
    ].join('\n');
    expect(checkSource('machines/example.ts', text)).toEqual([]);
  });

  it('does not report forbidden words inside strings, templates and regexes', () => {
    const text = [
      "const a = 'Date.now() and setTimeout(f) and console.log';",
      'const b = "import fs from \'node:fs\'; Math.random()";',
      'const c = `process.env and new Date() // not a comment`;',
      'const d = /Date\\.now\\(\\)|setTimeout/;',
      "const e = 'it\\'s new Date()';",
      "const f = { message: 'from \"ws\"' };",
    ].join('\n');
    expect(checkSource('machines/example.ts', text)).toEqual([]);
  });

  it('does not report properties that share a forbidden name', () => {
    const text = 'clock.setTimeout(f, 1); event.Date; const o = { console: 1, Date: 2 }; type T = { process: string };';
    expect(checkSource('machines/example.ts', text)).toEqual([]);
  });

  it('still sees code after a division, a regex with a quote, and a template expression', () => {
    expect(rulesOf('machines/a.ts', "const r = a / b; const q = /['\"]/; Date.now();")).toEqual(['no-date']);
    expect(rulesOf('machines/a.ts', 'const s = `${`${x}`}`; console.log(s);')).toEqual(['no-console']);
    expect(rulesOf('machines/a.ts', 'const t = `a ${ { k: 1 }.k } b`; setTimeout(f);')).toEqual(['no-timers']);
  });
});

describe('layering: adapters/ and other layers', () => {
  it('reports adapters/ importing runtime/', () => {
    expect(rulesOf('adapters/udp.ts', "import { start } from '../runtime/node.js';")).toEqual(['no-runtime-import']);
  });

  it('lets adapters/ use node builtins, ws, timers and machines/', () => {
    const text = "import dgram from 'node:dgram';\nimport WebSocket from 'ws';\nimport { decodeFrame } from '../machines/codec.js';\nsetTimeout(f, Date.now());";
    expect(checkSource('adapters/ws.ts', text)).toEqual([]);
  });

  it('has no rules for runtime/ or specs/', () => {
    expect(checkSource('runtime/node.ts', "import fs from 'node:fs'; Date.now();")).toEqual([]);
  });

  it('resolves relative imports from an absolute path', () => {
    const violations = checkSource('/repo/machines/x.ts', "import { y } from '../runtime/y.js';");
    expect(violations.map((violation) => violation.rule)).toEqual(['no-runtime-import']);
  });
});

describe('layering: tree and CLI failures', () => {
  let scratch: string | undefined;
  afterEach(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    scratch = undefined;
  });

  function makeTree(files: Record<string, string>): string {
    scratch = mkdtempSync(join(tmpdir(), 'layering-'));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(scratch, path, '..'), { recursive: true });
      writeFileSync(join(scratch, path), text);
    }
    return scratch;
  }

  it('checkTree scans nested machines/ files and adapters/ files', () => {
    const root = makeTree({
      'machines/ok.ts': "import * as z from 'zod';",
      'machines/deep/bad.ts': '\nconst t = Date.now();',
      'adapters/bad.ts': "import '../runtime/x.js';",
      'runtime/free.ts': "import fs from 'node:fs';",
    });
    expect(checkTree(root).map(({ file, line, rule }) => `${file}:${line} ${rule}`)).toEqual([
      'adapters/bad.ts:1 no-runtime-import',
      'machines/deep/bad.ts:2 no-date',
    ]);
  });

  it('exits 1 and prints file:line and the rule when a file breaks a rule', () => {
    const root = makeTree({ 'machines/bad.ts': "\n\nimport { readFileSync } from 'node:fs';\n" });
    mkdirSync(join(root, 'specs/tools'), { recursive: true });
    for (const name of ['check-layering.mjs', 'layering.mjs']) copyFileSync(join(toolsDir, name), join(root, 'specs/tools', name));
    const run = spawnSync(process.execPath, [join(root, 'specs/tools/check-layering.mjs')], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('machines/bad.ts:3');
    expect(run.stderr).toContain('no-node-builtin');
  });
});

/**
 * Every TypeScript block of README.md and docs/guide.md, as a reader would use it: extracted
 * (specs/support/markdownBlocks.ts has the marks), type-checked against the package's types, and
 * run with node + tsx, importing `switchboard` by name (the package resolves itself), in document
 * order: a whole program must exit 0 by itself (so it stops what it started) and print its
 * documented output; a server block is started, waited for, and must exit 0 on SIGTERM once the
 * others ran; a fragment is not run and says why.
 *
 * The programs use the library's defaults, as the docs do: UDP discovery on port 50001,
 * broadcast on every interface. So each document runs in a network namespace of its own with
 * only a loopback interface (needs root and `ip`, Debian's iproute2; otherwise the runs are
 * skipped, saying why): nothing leaves it, and its port 50001 is not the host's.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typescriptBlocks, type CodeBlock } from './support/markdownBlocks.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCUMENTS = ['README.md', 'docs/guide.md'] as const;
/** Inside the package, so that `import 'switchboard'` resolves to the package itself. */
const WORK = path.join(ROOT, '.scratch', `docs-examples-${process.pid}`);
const PROGRAM_TIMEOUT_MS = 30_000;
const NAMESPACE = `sbdocs${process.pid.toString(36)}`;

const run = (command: string, args: readonly string[]) => spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });

/** Why the programs cannot run here, or undefined once the namespace is up. */
function createNamespace(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: network namespaces need CAP_NET_ADMIN';
  if (run('ip', ['-V']).status !== 0) return '`ip` is missing (Debian package iproute2)';
  const added = run('ip', ['netns', 'add', NAMESPACE]);
  if (added.status !== 0) return `ip netns add failed: ${added.stderr.trim()}`;
  const up = run('ip', ['netns', 'exec', NAMESPACE, 'ip', 'link', 'set', 'lo', 'up']);
  return up.status === 0 ? undefined : `cannot bring lo up in the namespace: ${up.stderr.trim()}`;
}

let namespaceProblem: string | undefined = 'not set up yet';
const children = new Set<ChildProcess>();

beforeAll(() => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  namespaceProblem = createNamespace();
});

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (namespaceProblem === undefined) run('ip', ['netns', 'delete', NAMESPACE]);
  rmSync(WORK, { recursive: true, force: true });
});

interface Running {
  readonly child: ChildProcess;
  readonly output: { stdout: string; stderr: string };
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(file: string, cwd: string): Running {
  const child = spawn('ip', ['netns', 'exec', NAMESPACE, process.execPath, '--import', 'tsx', file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const output = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return { child, output, exited };
}

async function finish(running: Running, what: string, timeoutMs = PROGRAM_TIMEOUT_MS) {
  const timer = setTimeout(() => running.child.kill('SIGKILL'), timeoutMs);
  const exit = await running.exited;
  clearTimeout(timer);
  expect(exit, `${what} did not end by itself within ${timeoutMs} ms, or failed\nstdout:\n${running.output.stdout}\nstderr:\n${running.output.stderr}`).toEqual({ code: 0, signal: null });
}

/** `expected` lines appear in `stdout` in this order (other lines may come between). */
function expectLinesInOrder(stdout: string, expected: readonly string[], what: string): void {
  const lines = stdout.split('\n').map((text) => text.trimEnd());
  let at = 0;
  for (const line of expected) {
    const found = lines.indexOf(line.trimEnd(), at);
    expect(found, `${what}: "${line}" missing (in order) from its output:\n${stdout}`).toBeGreaterThanOrEqual(0);
    at = found + 1;
  }
}

const fileOf = (block: CodeBlock, index: number) => block.file ?? `block-${index + 1}-line-${block.line}.ts`;

describe.each(DOCUMENTS)('%s', (document) => {
  const blocks = typescriptBlocks(readFileSync(path.join(ROOT, document), 'utf8'));
  const runnable = blocks.filter((block) => block.how.kind !== 'fragment');
  const dir = path.join(WORK, document.replace(/[^A-Za-z0-9]+/g, '-'));

  it('has TypeScript examples, every one either a program or a fragment that says why it is not run', () => {
    expect(runnable.length).toBeGreaterThan(0);
    for (const block of blocks) if (block.how.kind === 'fragment') expect(block.how.why.length, `line ${block.line}`).toBeGreaterThanOrEqual(10);
  });

  it('type-checks every program against the package types', { timeout: 120_000 }, () => {
    mkdirSync(dir, { recursive: true });
    const files = runnable.map((block) => {
      const file = fileOf(block, blocks.indexOf(block));
      writeFileSync(path.join(dir, file), block.code);
      return file;
    });
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: path.relative(dir, path.join(ROOT, 'tsconfig.base.json')), compilerOptions: { noEmit: true, incremental: false }, files }),
    );
    const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8', timeout: 110_000 });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  });

  it('runs every program to its end (and every server until SIGTERM), printing what the document shows', { timeout: 180_000 }, async (context) => {
    if (namespaceProblem !== undefined) return context.skip(`docs examples not run: ${namespaceProblem}`);
    mkdirSync(dir, { recursive: true });
    for (const block of runnable) writeFileSync(path.join(dir, fileOf(block, blocks.indexOf(block))), block.code);
    const servers: { running: Running; what: string }[] = [];
    for (const block of runnable) {
      const file = fileOf(block, blocks.indexOf(block));
      const what = `${document} line ${block.line} (${file})`;
      const running = start(file, dir);
      if (block.how.kind === 'server') {
        const { readyText } = block.how;
        const deadline = Date.now() + PROGRAM_TIMEOUT_MS;
        while (!running.output.stdout.includes(readyText) && running.child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(running.output.stdout, `${what} never printed "${readyText}"\nstderr:\n${running.output.stderr}`).toContain(readyText);
        servers.push({ running, what });
        continue;
      }
      await finish(running, what);
      if (block.expectedOutput !== undefined) expectLinesInOrder(running.output.stdout, block.expectedOutput, what);
    }
    for (const { running, what } of servers) {
      running.child.kill('SIGTERM');
      await finish(running, `${what} after SIGTERM`, 10_000);
    }
  });
});

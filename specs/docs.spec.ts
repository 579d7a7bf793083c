/**
 * The docs stand on their own: README.md and docs/*.md cite no file a reader of the repository
 * does not have (design notes, the seed's file, paths on the machine they were written on), and
 * every relative link points at a file (and heading) that exists. Plus the block extraction that
 * specs/docs.examples.slow.spec.ts runs the examples with.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { typescriptBlocks } from './support/markdownBlocks.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCUMENTS = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const heading = inFence ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (heading === null) continue;
    const base = slug(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

describe('docs: self-contained', () => {
  it.each(DOCUMENTS)('%s cites no file outside the repository', (file) => {
    const text = read(file);
    for (const outside of [/\.\.\/shared/, /\bshared\//, /\b(?:DESIGN|STYLE|PEERS)\.md\b/, /\bseeds?\/\d/, /\b\d{3}_[0-9a-f]{16}\.txt\b/, /\/work\//, /seed document/i]) {
      expect(text, `${file} matches ${outside}`).not.toMatch(outside);
    }
  });

  it.each(DOCUMENTS)('%s links only to files and headings that exist', (file) => {
    const text = read(file).replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue; // https:, mailto:
      const [linkPath, anchor] = target!.split('#') as [string, string | undefined];
      const resolved = linkPath === '' ? file : path.normalize(path.join(path.dirname(file), linkPath));
      expect(existsSync(path.join(ROOT, resolved)), `${file} links to ${target}`).toBe(true);
      if (anchor !== undefined && resolved.endsWith('.md')) expect([...anchorsOf(read(resolved))], `${file} links to ${target}`).toContain(anchor);
    }
  });
});

describe('docs: the TypeScript blocks and their marks', () => {
  const markdown = [
    'Intro.',
    '```ts file=service.ts',
    "export const a = 1;",
    '```',
    '<!-- output -->',
    '```text',
    'first',
    '',
    'second',
    '```',
    '- a list item:',
    '',
    '  <!-- fragment: an option shown on its own -->',
    '  ```ts',
    '  createClient({ retry: {} });',
    '  ```',
    '<!-- server: prints "ready", then serves -->',
    '```ts',
    'serve();',
    '```',
    '```sh',
    'npm test',
    '```',
  ].join('\n');

  it('finds each ts block with its file name, its mark, and the output documented after it', () => {
    expect(typescriptBlocks(markdown)).toEqual([
      { line: 2, file: 'service.ts', code: 'export const a = 1;\n', how: { kind: 'program' }, expectedOutput: ['first', 'second'] },
      { line: 14, file: undefined, code: 'createClient({ retry: {} });\n', how: { kind: 'fragment', why: 'an option shown on its own' }, expectedOutput: undefined },
      { line: 18, file: undefined, code: 'serve();\n', how: { kind: 'server', readyText: 'ready' }, expectedOutput: undefined },
    ]);
  });

  it('refuses a fragment that does not say why, and a server that does not say what it prints when ready', () => {
    expect(() => typescriptBlocks('<!-- fragment: -->\n```ts\nx\n```')).toThrow(/must say why/);
    expect(() => typescriptBlocks('<!-- server: runs -->\n```ts\nx\n```')).toThrow(/must quote the text/);
  });

  it.each(['README.md', 'docs/guide.md'])('%s: every block is a program, a server or a fragment with a reason', (file) => {
    const blocks = typescriptBlocks(read(file));
    expect(blocks.length).toBeGreaterThan(0);
    expect(blocks.some((block) => block.how.kind === 'program')).toBe(true);
  });
});

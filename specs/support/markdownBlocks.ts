/**
 * The TypeScript blocks of a Markdown document, with the marks that say how to run each
 * (specs/docs.examples.slow.spec.ts; the conventions are in docs/testing.md):
 *
 * - a fenced block whose info string starts with `ts` (`ts file=thumbnails.ts` also names the file
 *   the block is saved as, so a later block can import it);
 * - the HTML comment on the line before it, if any:
 *     `<!-- fragment: why -->`  not a program (an option shown alone, a missing dependency): not run;
 *     `<!-- server: ... "text" ... -->`  a program that serves until stopped: it is started, the spec
 *         waits for "text" on its stdout, and it gets SIGTERM (and must exit 0) after the others ran;
 *   no comment: a whole program, run to its end (exit 0);
 * - `<!-- output -->` before a ```text block that follows the program: lines its stdout must show,
 *   in that order.
 */

export type BlockKind = { readonly kind: 'program' } | { readonly kind: 'server'; readonly readyText: string } | { readonly kind: 'fragment'; readonly why: string };

export interface CodeBlock {
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly file: string | undefined;
  readonly code: string;
  readonly how: BlockKind;
  readonly expectedOutput: readonly string[] | undefined;
}

interface Fence {
  readonly line: number;
  readonly info: string;
  readonly body: string;
  /** The nearest non-blank line before the fence. */
  readonly before: string;
}

function fencesOf(markdown: string): Fence[] {
  const lines = markdown.split('\n');
  const fences: Fence[] = [];
  for (let index = 0; index < lines.length; index++) {
    const open = /^(\s*)```(\S.*)?$/.exec(lines[index]!);
    if (open === null) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let end = index + 1;
    for (; end < lines.length && !/^\s*```\s*$/.test(lines[end]!); end++) body.push(lines[end]!.slice(indent));
    let previous = index - 1;
    while (previous >= 0 && lines[previous]!.trim() === '') previous--;
    fences.push({ line: index + 1, info: (open[2] ?? '').trim(), body: `${body.join('\n')}\n`, before: previous >= 0 ? lines[previous]!.trim() : '' });
    index = end;
  }
  return fences;
}

function kindOf(before: string, line: number): BlockKind {
  const mark = /^<!--\s*(fragment|server):\s*(.*?)\s*-->$/.exec(before);
  if (mark === null) return { kind: 'program' };
  if (mark[1] === 'fragment') {
    if (mark[2]!.length < 10) throw new Error(`line ${line}: a fragment mark must say why the block is not a program`);
    return { kind: 'fragment', why: mark[2]! };
  }
  const ready = /"([^"]+)"/.exec(mark[2]!);
  if (ready === null) throw new Error(`line ${line}: a server mark must quote the text it prints once ready`);
  return { kind: 'server', readyText: ready[1]! };
}

export function typescriptBlocks(markdown: string): CodeBlock[] {
  const fences = fencesOf(markdown);
  const blocks: CodeBlock[] = [];
  fences.forEach((fence, index) => {
    if (!/^ts(\s|$)/.test(fence.info)) return;
    const next = fences.slice(index + 1).find((candidate) => /^ts(\s|$)/.test(candidate.info) || (candidate.info === 'text' && candidate.before === '<!-- output -->'));
    const expectedOutput = next !== undefined && next.info === 'text' ? next.body.split('\n').filter((text) => text.trim() !== '') : undefined;
    blocks.push({
      line: fence.line,
      file: /\bfile=(\S+)/.exec(fence.info)?.[1],
      code: fence.body,
      how: kindOf(fence.before, fence.line),
      expectedOutput,
    });
  });
  return blocks;
}

/**
 * The layering rule (STYLE "machines/ knows nothing about I/O"), checked on source text.
 *
 * machines/: may import only `xstate`, `zod` (and their subpaths) and files inside machines/; may
 * not use the clock, randomness, timers, the process, or the console. adapters/: may not import
 * runtime/. Plain Node, no dependencies. A small tokenizer skips comments, strings, template text
 * and regular-expression literals, so `Date` in a JSDoc comment or `'setTimeout'` in a message is
 * not a use.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix, relative, sep } from 'node:path';

const ALLOWED_PACKAGES = ['xstate', 'zod'];
const NODE_BUILTINS = new Set(builtinModules.filter((name) => !name.startsWith('_')));

/** Globals a machine may not touch, with the rule each breaks. Members: `Math.random`. */
const FORBIDDEN_GLOBALS = new Map([
  ['Date', 'no-date'],
  ['setTimeout', 'no-timers'],
  ['setInterval', 'no-timers'],
  ['setImmediate', 'no-timers'],
  ['clearTimeout', 'no-timers'],
  ['clearInterval', 'no-timers'],
  ['clearImmediate', 'no-timers'],
  ['queueMicrotask', 'no-timers'],
  ['console', 'no-console'],
]);
/** Globals forbidden when a member is read from them (`process.env`, `performance.now()`). */
const FORBIDDEN_NAMESPACES = new Map([
  ['process', 'no-process'],
  ['performance', 'no-performance'],
]);
const GLOBAL_OBJECTS = new Set(['globalThis', 'global', 'window', 'self']);

/** After these keywords a `/` starts a regular expression, not a division. */
const KEYWORDS_BEFORE_EXPRESSION = new Set([
  'return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await',
]);

const IDENTIFIER_START = /[\p{ID_Start}$_]/u;
const IDENTIFIER_PART = /[\p{ID_Continue}$\u200c\u200d]/u;
const PUNCTUATORS = ['?.', '...', '=>'];

/**
 * Splits TypeScript source into tokens `{ kind, value, line, column }` with kind one of
 * `identifier`, `string`, `template`, `regex`, `number`, `punct`. Comments and whitespace vanish.
 */
export function tokenize(text) {
  const tokens = [];
  /** Brace depths at which an enclosing template literal resumes after `${ ... }`. */
  const templateStack = [];
  let braceDepth = 0;
  let index = 0;
  let line = 1;
  let lineStart = 0;

  const push = (kind, value, start, startLine, startColumn) => tokens.push({ kind, value, start, line: startLine, column: startColumn });
  const advanceOver = (end) => {
    for (let i = index; i < end && i < text.length; i++) {
      if (text[i] === '\n') {
        line++;
        lineStart = i + 1;
      }
    }
    index = Math.min(end, text.length);
  };
  const regexAllowed = () => {
    const previous = tokens.at(-1);
    if (previous === undefined) return true;
    if (previous.kind === 'identifier') return KEYWORDS_BEFORE_EXPRESSION.has(previous.value);
    if (previous.kind === 'punct') return ![')', ']'].includes(previous.value);
    return false;
  };
  /** Reads template text from `index` (just after a backtick or a closing `}`) to its end or `${`. */
  const readTemplate = (start, startLine, startColumn) => {
    let i = index;
    while (i < text.length && text[i] !== '`' && !(text[i] === '$' && text[i + 1] === '{')) i += text[i] === '\\' ? 2 : 1;
    const value = text.slice(index, i);
    if (text[i] === '$') {
      templateStack.push(braceDepth);
      advanceOver(i + 2);
    } else advanceOver(i + 1);
    push('template', value, start, startLine, startColumn);
  };

  while (index < text.length) {
    const char = text[index];
    const next = text[index + 1];
    const start = index;
    const startLine = line;
    const startColumn = index - lineStart + 1;
    if (/\s/.test(char)) {
      advanceOver(index + 1);
    } else if (char === '/' && next === '/') {
      const end = text.indexOf('\n', index);
      advanceOver(end === -1 ? text.length : end);
    } else if (char === '/' && next === '*') {
      const end = text.indexOf('*/', index + 2);
      advanceOver(end === -1 ? text.length : end + 2);
    } else if (char === '"' || char === "'") {
      let i = index + 1;
      while (i < text.length && text[i] !== char && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
      const value = text.slice(index + 1, i);
      advanceOver(i + 1);
      push('string', value, start, startLine, startColumn);
    } else if (char === '`') {
      advanceOver(index + 1);
      readTemplate(start, startLine, startColumn);
    } else if (char === '}' && templateStack.length > 0 && templateStack.at(-1) === braceDepth) {
      templateStack.pop();
      advanceOver(index + 1);
      readTemplate(start, startLine, startColumn);
    } else if (char === '/' && regexAllowed()) {
      // A regex literal ends at an unescaped `/` outside a class, on the same line; else it was a division.
      let i = index + 1;
      let inClass = false;
      while (i < text.length && text[i] !== '\n' && (inClass || text[i] !== '/')) {
        if (text[i] === '\\') i++;
        else if (text[i] === '[') inClass = true;
        else if (text[i] === ']') inClass = false;
        i++;
      }
      if (text[i] === '/') {
        i++;
        while (i < text.length && IDENTIFIER_PART.test(text[i])) i++;
        push('regex', text.slice(index, i), start, startLine, startColumn);
        advanceOver(i);
      } else {
        push('punct', '/', start, startLine, startColumn);
        advanceOver(index + 1);
      }
    } else if (IDENTIFIER_START.test(char) || char === '\\') {
      let i = index + 1;
      while (i < text.length && IDENTIFIER_PART.test(text[i])) i++;
      push('identifier', text.slice(index, i), start, startLine, startColumn);
      advanceOver(i);
    } else if (/[0-9]/.test(char) || (char === '.' && /[0-9]/.test(next ?? ''))) {
      let i = index + 1;
      while (i < text.length && /[0-9A-Za-z_.]/.test(text[i])) i++;
      push('number', text.slice(index, i), start, startLine, startColumn);
      advanceOver(i);
    } else {
      const punct = PUNCTUATORS.find((candidate) => text.startsWith(candidate, index)) ?? char;
      if (punct === '{') braceDepth++;
      if (punct === '}') braceDepth--;
      push('punct', punct, start, startLine, startColumn);
      advanceOver(index + punct.length);
    }
  }
  return tokens;
}

/** Module specifiers a file imports: `import/export ... from 'x'`, `import 'x'`, `import('x')`, `require('x')`. */
export function importsOf(tokens) {
  const found = [];
  tokens.forEach((token, i) => {
    const next = tokens[i + 1];
    const afterParen = tokens[i + 2];
    if (token.kind !== 'identifier' || tokens[i - 1]?.value === '.' || tokens[i - 1]?.value === '?.') return;
    if (token.value === 'from' && next?.kind === 'string') found.push({ specifier: next.value, token: next });
    else if (token.value === 'import' && next?.kind === 'string') found.push({ specifier: next.value, token: next });
    else if ((token.value === 'import' || token.value === 'require') && next?.value === '(' && afterParen?.kind === 'string') {
      found.push({ specifier: afterParen.value, token: afterParen });
    }
  });
  return found;
}

const toPosix = (path) => path.split(sep).join('/').replaceAll('\\', '/');

/**
 * Which layer a path belongs to, the directory holding that layer (the repository root) and the
 * file's directory. A relative path is read from the repository root (`machines/x.ts`); in an
 * absolute path the innermost `machines` or `adapters` directory counts.
 */
function layerOf(path) {
  const parts = posix.normalize(toPosix(path)).split('/');
  const candidates = path.startsWith('/') || /^[A-Za-z]:/.test(path) ? [...parts.keys()].slice(0, -1).reverse() : [0];
  for (const i of candidates) {
    if (parts[i] === 'machines' || parts[i] === 'adapters') {
      return { layer: parts[i], root: parts.slice(0, i).join('/'), dir: parts.slice(0, -1).join('/') };
    }
  }
  return undefined;
}

function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function classifyImport(layer, specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/')) {
    const target = posix.normalize(posix.join(layer.dir, specifier));
    const inside = (name) => {
      const prefix = layer.root === '' ? `${name}/` : `${layer.root}/${name}/`;
      return target.startsWith(prefix) || target === prefix.slice(0, -1);
    };
    if (inside('runtime')) return ['no-runtime-import', `imports ${specifier} (runtime/)`];
    if (layer.layer === 'machines' && inside('adapters')) return ['no-adapters-import', `imports ${specifier} (adapters/)`];
    if (layer.layer === 'machines' && !inside('machines')) return ['no-import-outside-machines', `imports ${specifier}, outside machines/`];
    return undefined;
  }
  if (layer.layer !== 'machines') return undefined;
  if (specifier.startsWith('node:') || NODE_BUILTINS.has(packageName(specifier))) {
    return ['no-node-builtin', `imports the Node builtin ${specifier}`];
  }
  if (packageName(specifier) === 'ws') return ['no-ws', `imports ${specifier}`];
  if (!ALLOWED_PACKAGES.includes(packageName(specifier))) {
    return ['allowed-packages', `imports ${specifier}; machines/ may import only ${ALLOWED_PACKAGES.join(' and ')}`];
  }
  return undefined;
}

/**
 * Checks one file's source. `path` is read relative to the repository root (`machines/codec.ts`);
 * files outside machines/ and adapters/ have no rules. Returns `{ file, line, column, rule, message }[]`.
 */
export function checkSource(path, text) {
  const layer = layerOf(path);
  if (layer === undefined) return [];
  const file = toPosix(path);
  const violations = [];
  const report = (token, rule, message) => violations.push({ file, line: token.line, column: token.column, rule, message });
  const tokens = tokenize(text);

  for (const { specifier, token } of importsOf(tokens)) {
    const problem = classifyImport(layer, specifier);
    if (problem) report(token, ...problem);
  }
  if (layer.layer !== 'machines') return violations;

  tokens.forEach((token, i) => {
    if (token.kind !== 'identifier') return;
    const previous = tokens[i - 1];
    const isMember = previous?.kind === 'punct' && (previous.value === '.' || previous.value === '?.');
    // `foo.Date` is someone's property; `globalThis.Date` is the global.
    if (isMember && !GLOBAL_OBJECTS.has(tokens[i - 2]?.value)) return;
    // An object key (`{ console: x }`) or a declared property name is not a use either.
    if (tokens[i + 1]?.value === ':' && ['{', ','].includes(previous?.value)) return;
    const next = tokens[i + 1];
    const memberNext = next?.kind === 'punct' && (next.value === '.' || next.value === '?.');
    if (FORBIDDEN_GLOBALS.has(token.value)) {
      report(token, FORBIDDEN_GLOBALS.get(token.value), `uses ${token.value}`);
    } else if (FORBIDDEN_NAMESPACES.has(token.value) && memberNext) {
      report(token, FORBIDDEN_NAMESPACES.get(token.value), `uses ${token.value}.${tokens[i + 2]?.value ?? ''}`);
    } else if (token.value === 'Math' && memberNext && tokens[i + 2]?.value === 'random') {
      report(token, 'no-math-random', 'uses Math.random');
    }
  });
  return violations;
}

const SOURCE_FILE = /\.(?:ts|mts|cts|tsx)$/;

/** Every TypeScript file under `<root>/machines` and `<root>/adapters`, as root-relative paths. */
export function sourceFiles(root) {
  const files = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if (error.code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && SOURCE_FILE.test(entry.name)) files.push(toPosix(relative(root, full)));
    }
  };
  walk(join(root, 'machines'));
  walk(join(root, 'adapters'));
  return files.sort();
}

/** Checks every file of `sourceFiles(root)`. */
export function checkTree(root) {
  return sourceFiles(root).flatMap((file) => checkSource(file, readFileSync(join(root, file), 'utf8')));
}

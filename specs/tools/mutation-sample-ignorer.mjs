// A StrykerJS ignorer plugin for the sampled mutation run (specs/tools/mutation-sample.mjs): it
// ignores every syntax node that holds none of the sampled mutants, so descendants of a sampled
// block are not run. Stryker's mutate ranges already leave out the ancestors. The sample is read
// from the file named by SWITCHBOARD_MUTATION_SAMPLE (a JSON list of {fileName, location}).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { PluginKind, declareValuePlugin } from '@stryker-mutator/api/plugin';

const sampleFile = process.env.SWITCHBOARD_MUTATION_SAMPLE;
/** fileName -> sampled locations, with 1-based lines as Babel's nodes have them. */
const sampled = new Map();
if (sampleFile) {
  for (const { fileName, location } of JSON.parse(readFileSync(sampleFile, 'utf8'))) {
    const list = sampled.get(fileName) ?? [];
    list.push({ start: { line: location.start.line + 1, column: location.start.column }, end: { line: location.end.line + 1, column: location.end.column } });
    sampled.set(fileName, list);
  }
}

const before = (a, b) => a.line < b.line || (a.line === b.line && a.column <= b.column);
const contains = (outer, inner) => before(outer.start, inner.start) && before(inner.end, outer.end);

export const strykerPlugins = [
  declareValuePlugin(PluginKind.Ignore, 'switchboard-sample', {
    shouldIgnore(path) {
      const loc = path.node?.loc;
      const fileName = path.hub?.file?.opts?.filename;
      if (!loc || !fileName) return undefined;
      const locations = sampled.get(relative(process.cwd(), fileName)) ?? sampled.get(fileName);
      if (!locations) return 'not in the sample';
      return locations.some((location) => contains(loc, location)) ? undefined : 'not in the sample';
    },
  }),
];

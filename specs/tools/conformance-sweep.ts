/**
 * Prints the detection table of docs/conformance.md ("How good is the suite"): every broken
 * provider and client of specs/fixtures run under the conformance suite at level full, with the
 * checks that caught each. Takes about 3.5 minutes on two cores.
 *
 *   node --import tsx specs/tools/conformance-sweep.ts [providers|clients]
 */
import { brokenClients } from '../fixtures/brokenClients.js';
import { brokenProviders } from '../fixtures/brokenProviders.js';
import { CLIENTS_AT_ONCE, judgeBrokenClient, judgeBrokenProvider, PROVIDERS_AT_ONCE, rates, sweep, type Verdict } from '../support/conformanceSweep.js';

const which = process.argv[2] ?? 'both';

function print(title: string, verdicts: readonly Verdict[]): void {
  const figures = rates(verdicts);
  process.stdout.write(`\n### ${title}\n\n| peer | defect | breaks | level | core | full | caught by |\n|---|---|---|---|---|---|---|\n`);
  for (const verdict of verdicts) {
    const roots = verdict.failing.filter((check) => check.rootCause === undefined).map((check) => `\`${check.name}\``);
    process.stdout.write(`| ${verdict.name} | ${verdict.defect} | ${verdict.breaks.join(', ')} | ${verdict.level} | ${verdict.detectedCore ? 'yes' : 'no'} | ${verdict.detectedFull ? 'yes' : 'no'} | ${roots.join(', ') || 'missed'} |\n`);
  }
  process.stdout.write(`\nlevel full: ${figures.full} of ${figures.fullOf}; level core: ${figures.core} of the ${figures.coreOf} core-rule defects (${figures.coreAll} of all ${figures.fullOf})\n`);
}

if (which !== 'clients') print('Broken providers', await sweep(brokenProviders, (entry) => judgeBrokenProvider(entry), PROVIDERS_AT_ONCE));
if (which !== 'providers') print('Broken clients', await sweep(brokenClients, judgeBrokenClient, CLIENTS_AT_ONCE));
process.exit(0);

/**
 * Takes the screenshots in docs/ui.md from a real run: a provider and a client with the web UI on
 * loopback, driven by Debian's Chromium. `npm run screenshots` (needs /usr/bin/chromium).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { buildUi } from './build.js';
import { packageRoot } from './bundle.js';
import { chromiumMissing, consoleProblems, launchChromium } from './chromium.js';
import { startUiWorld } from './demoWorld.js';

const missing = chromiumMissing();
if (missing !== undefined) {
  process.stderr.write(`screenshots: ${missing}\n`);
  process.exit(2);
}
const images = path.join(packageRoot(), 'docs', 'images');
await mkdir(images, { recursive: true });
await buildUi();
const world = await startUiWorld({ imageService: true, stepDelayMs: 250 });
const browser = await launchChromium({ width: 1360, height: 820 });
const shot = (name: string, fullPage = false) => page.screenshot({ path: path.join(images, `ui-${name}.png`), fullPage });
const page = await browser.context.newPage();
const problems = consoleProblems(page);
try {
  const base = world.server.url;
  await page.goto(base);
  await page.getByRole('link', { name: /Previews/ }).waitFor();
  await page.getByRole('link', { name: /ImageProcessingService/ }).waitFor();
  await shot('services');

  await page.goto(`${base}#/assign?service=Previews`);
  await page.getByLabel('width').fill('320');
  await page.getByLabel('height').fill('200');
  await page.getByLabel('steps').fill('16');
  await page.getByLabel('title').fill('sunrise');
  await shot('assign');
  await page.getByRole('button', { name: 'Assign' }).click();
  for (const deadline = Date.now() + 20_000; ; ) {
    const percent = Number(/\d+/.exec((await page.getByTestId('task-progress').textContent()) ?? '')?.[0] ?? 0);
    if (percent >= 40) break;
    if (Date.now() > deadline) throw new Error('the task never reached 40%');
    await page.waitForTimeout(50);
  }
  await shot('progress');
  await page.getByTestId('task-status').filter({ hasText: 'Completed' }).waitFor({ timeout: 20_000 });
  await shot('result', true);

  // A few more tasks for the list: one fails (no such file), one is cancelled.
  const failing = world.client.assign('ImageProcessingService', 'resizeImage', { inputPath: 'missing.png', outputPath: 'out.png', width: 10 });
  await failing.result.catch(() => undefined);
  const cancelled = world.client.assign('Previews', 'render', { width: 64, height: 64, steps: 40 });
  await new Promise((resolve) => setTimeout(resolve, 600));
  await cancelled.cancel();
  const resized = world.client.assign('ImageProcessingService', 'resizeImage', { inputPath: 'sample.png', outputPath: 'small.png', width: 200 });
  await resized.result;
  await page.goto(`${base}#/tasks`);
  await page.getByRole('link', { name: failing.taskId }).first().waitFor();
  await shot('tasks');

  const firstKey = `client:${world.client.clientId}/`;
  const uiTask = [...world.server.model.allTasks()].find((row) => row.key.startsWith(firstKey) && row.serviceName === 'Previews' && row.status === 'Completed');
  if (uiTask) {
    await page.goto(`${base}#/tasks/${encodeURIComponent(uiTask.key)}`);
    await page.getByRole('list', { name: /Task history/ }).locator('li').nth(5).waitFor();
    await shot('history');
  }

  const long = world.client.assign('Previews', 'render', { width: 64, height: 64, steps: 60 });
  await new Promise((resolve) => setTimeout(resolve, 800));
  const row = world.server.model.task(`client:${world.client.clientId}/${long.taskId}`);
  await page.goto(`${base}#/charts?actor=${encodeURIComponent(row?.actor ?? '')}`);
  await page.getByTestId('current-state').filter({ hasText: 'processing' }).waitFor();
  await page.getByTestId('transitions').locator('li').first().waitFor({ timeout: 10_000 });
  await shot('statechart');
  await long.cancel();

  const connection = world.server.model.allActors().find((actor) => actor.kind === 'connection');
  if (connection) {
    await page.goto(`${base}#/charts?actor=${encodeURIComponent(connection.sessionId)}`);
    await page.getByTestId('current-state').waitFor();
    await shot('statechart-connection');
  }
  if (problems.length > 0) throw new Error(`console problems: ${problems.join('; ')}`);
  process.stdout.write(`screenshots written to ${images}\n`);
} catch (error) {
  process.stderr.write(`console problems so far: ${problems.join('; ') || 'none'}\n`);
  await page.screenshot({ path: path.join(packageRoot(), '.scratch', 'screenshots-failure.png'), fullPage: true }).catch(() => undefined);
  throw error;
} finally {
  await browser.close();
  await world.close();
}

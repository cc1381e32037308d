/**
 * Renders the chargeback report of the bundled example and takes its picture for the docs:
 * the local pipeline (emulators, simulator) runs the examples as `npm start` drops them, docs on
 * Monday 30 November 2026 at 09:30 UTC (DeepSeek's peak hours) and tests on Tuesday 1 December at
 * 12:00 (off-peak), the line items are exported from the ledger's stream, and
 * `warmbatch costs --format html` writes the page that headless Chromium photographs.
 *
 *   npx tsx packages/tools/chargeback-report.ts [--out docs/chargeback-report.png] [--html <file>]
 *
 * Prints the page's size and its load-to-drawn time in Chromium.
 */
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Services } from '../../cli/config';
import { runCli } from '../../cli/lib/run';
import { startLocalPipeline } from '../../local/pipeline';
import { runningClock } from '../../shared/clock';
import type { ResultsSummary } from '../../shared/pipeline/finalize';
import { launchChromium } from './chromium';
import { dropExamples, EXAMPLES_DIR, newSummaries } from './local';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'docs/chargeback-report.png' },
    html: { type: 'string', default: '.local/chargeback-report.html' },
  },
});
const out = values.out as string;
const html = values.html as string;

const clock = runningClock('2026-11-30T09:30:00Z');
const pipeline = await startLocalPipeline({
  clock,
  ports: { s3Sqs: 0, dynamodb: 0 },
  configPath: false,
  timeScale: 0.2,
  sim: { timeScale: 0.05, seed: 7 },
});
try {
  const { objects } = pipeline.deps;
  const poll = newSummaries(objects);
  const done: ResultsSummary[] = [];
  const run = async (kind: 'docs' | 'tests') => {
    const dropped = await dropExamples(objects, {
      examples: EXAMPLES_DIR,
      team: 'acme',
      project: 'shop',
      kinds: [kind],
    });
    const before = done.reduce((n, s) => n + s.jobs + s.rejectedInputs, 0);
    const deadline = Date.now() + 300_000;
    for (;;) {
      done.push(...(await poll()));
      if (done.reduce((n, s) => n + s.jobs + s.rejectedInputs, 0) - before >= dropped) return;
      if (Date.now() > deadline) throw new Error(`the ${kind} batch did not finish in 300 s`);
      await sleep(500);
    }
  };
  await run('docs');
  clock.set('2026-12-01T12:00:00Z');
  await run('tests');
  await pipeline.runtime.settleExport();

  const { resources } = pipeline.runtime;
  const services: Services = {
    objects,
    bucket: resources.bucket,
    jobs: pipeline.deps.jobs,
    ledger: pipeline.deps.ledger,
    close() {},
  };
  let text = '';
  const code = await runCli(
    [
      'costs',
      '--from',
      '2026-11-30',
      '--to',
      '2026-12-01',
      '--by',
      'team,project,kind',
      '--format',
      'html',
      '--out',
      html,
    ],
    {
      io: {
        cwd: process.cwd(),
        env: {},
        stdout: { write: (s: string) => (text += s) },
        stderr: { write: (s: string) => process.stderr.write(s), isTTY: false },
      },
      clock,
      connect: async () => services,
      sleep: (ms) => sleep(ms),
      pollMs: 100,
    },
  );
  if (code !== 0) throw new Error(`costs exited ${code}: ${text}`);

  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
    const started = performance.now();
    await page.goto(pathToFileURL(html).href);
    await page.waitForSelector('body[data-ready="true"]');
    const drawnMs = performance.now() - started;
    await page.screenshot({ path: out, fullPage: true });
    const size = (await stat(html)).size;
    const inlined = (await readFile(html, 'utf8')).length;
    process.stdout.write(
      `report ${html}: ${(size / 1024).toFixed(1)} KB (${inlined} characters, Chart.js inlined); loaded and drawn in ${drawnMs.toFixed(0)} ms; screenshot ${out}\n`,
    );
  } finally {
    await browser.close();
  }
} finally {
  await pipeline.stop();
}

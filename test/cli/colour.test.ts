import { describe, expect, it } from 'vitest';
import { colourEnabled } from '../../cli/lib/colour';
import { summaryText } from '../../packages/tools/local';
import type { ResultsSummary } from '../../shared/pipeline/finalize';

const tty = { isTTY: true };
const pipe = { isTTY: false };
// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape is what is looked for
const ANSI = /\u001b\[/;

describe('colour', () => {
  it('is on for a terminal and off for a pipe or a file', () => {
    expect(colourEnabled(tty, {})).toBe(true);
    expect(colourEnabled(pipe, {})).toBe(false);
    expect(colourEnabled({}, {})).toBe(false);
  });

  it('honours NO_COLOR on a terminal and FORCE_COLOR on a pipe', () => {
    expect(colourEnabled(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colourEnabled(tty, { NO_COLOR: '' })).toBe(true);
    expect(colourEnabled(pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(colourEnabled(pipe, { FORCE_COLOR: '' })).toBe(true);
    expect(colourEnabled(tty, { FORCE_COLOR: '0' })).toBe(false);
    expect(colourEnabled(tty, { FORCE_COLOR: 'false' })).toBe(false);
  });

  it("leaves npm start's summary table plain off a terminal, coloured on one", () => {
    const summary = {
      batchId: 'b1',
      team: 't',
      project: 'p',
      kind: 'docs',
      jobs: 1,
      states: { succeeded: 1, reused: 0, failed: 0, skipped_budget: 0, expired: 0 },
      unpricedRequests: 0,
      tokens: { hit: 1, miss: 1, output: 1, reasoning: 0 },
      cacheHitRatio: 0.5,
      costNanoUsd: 10,
      warmupCostNanoUsd: 0,
      counterfactualNanoUsd: 20,
      savingsNanoUsd: 10,
      outputPrefix: 'outputs/t/p/b1/',
    } as unknown as ResultsSummary;
    expect(summaryText([summary], 'bucket', false)).not.toMatch(ANSI);
    expect(summaryText([summary], 'bucket', true)).toMatch(ANSI);
  });
});

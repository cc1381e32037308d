/**
 * Unbounded inputs are refused before any call, each with a reason in the batch's errors.jsonl:
 * an OpenAI batch file over `maxJsonlBytes` (unread), a `max_tokens` over the model's output
 * limit, and a prompt plus `max_tokens` over the model's context window.
 */
import { describe, expect, it } from 'vitest';
import type { LlmRequest } from '../../shared/llm/client';
import { limitsOf } from '../../shared/models/limits';
import type { ObjectStore } from '../../shared/ports/objects';
import { estimateTokens } from '../../shared/tokens';
import {
  errorsOf,
  ledgerTotals,
  put as putIn,
  simTotals,
  summariesOfTeam,
  useFakePipeline,
} from '../support/fake-pipeline';
import { source } from './support';

/** Small enough that a test can write a file over it, big enough for a 1.2M-token line. */
const MAX_JSONL_BYTES = 2_500_000;

const h = useFakePipeline({ settings: { maxJsonlBytes: MAX_JSONL_BYTES } });

const put = (key: string, body: string) => putIn(h, key, body);

/** One OpenAI Batch API line asking deepseek-v4-flash to answer `content`. */
function line(customId: string, content: string, maxTokens = 200): string {
  return JSON.stringify({
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: {
      model: 'deepseek-v4-flash',
      messages: [
        { role: 'system', content: 'You document TypeScript modules.' },
        { role: 'user', content },
      ],
      max_tokens: maxTokens,
    },
  });
}

/** Records every request the pipeline hands to the LLM client, then sends it. */
function recordCalls(): LlmRequest[] {
  const sent: LlmRequest[] = [];
  h.scriptLlm(async (request, real) => {
    sent.push(request);
    return real();
  });
  return sent;
}

/** The one finished batch of `team` (an OpenAI batch file is a batch of its own). */
async function onlyBatchOf(team: string) {
  const summaries = await summariesOfTeam(h, team);
  expect(summaries).toHaveLength(1);
  const [summary] = summaries;
  if (!summary) throw new Error('no summary');
  return { summary, errors: await errorsOf(h, { team, batchId: summary.batchId }) };
}

describe('limits on what reaches the provider', () => {
  it('refuses max_tokens 1e9 and a 1.2M-token line before any call, and runs the rest', async () => {
    // Prepare: one ordinary line, one asking for a billion output tokens, one far over 1M tokens
    const huge = 'x\n'.repeat(650_000);
    expect(estimateTokens(huge)).toBeGreaterThan(1_200_000);
    expect(estimateTokens(huge)).toBeGreaterThan(limitsOf('deepseek-v4-flash').contextTokens);
    const jsonl = [
      line('ok', `Document this file:\n${source(1)}`),
      line('greedy', `Document this file:\n${source(2)}`, 1e9),
      line('huge', huge),
    ].join('\n');
    expect(Buffer.byteLength(jsonl)).toBeLessThan(MAX_JSONL_BYTES);
    const sent = recordCalls();

    // Act
    await put('intake/limits/shop/openai-batch/docs/requests.jsonl', jsonl);
    const { summary, errors } = await onlyBatchOf('limits');

    // Assess: the two were never sent, not even as a warm-up, and the ledger has the rest
    expect(summary.states).toMatchObject({ succeeded: 1, failed: 2 });
    const byPath = Object.fromEntries(errors.map((e) => [e.path, e]));
    expect(byPath.greedy).toMatchObject({ state: 'failed', code: 'max_tokens_over_limit' });
    expect(byPath.greedy?.reason).toMatch(/max_tokens 1000000000 .*output limit of 8192 tokens/);
    expect(byPath.huge).toMatchObject({ state: 'failed', code: 'context_exceeded' });
    expect(byPath.huge?.reason).toMatch(/context window of 1048576 tokens/);
    expect(sent.some((r) => r.maxTokens === 1e9)).toBe(false);
    expect(sent.some((r) => r.messages.some((m) => m.content.length > 100_000))).toBe(false);
    expect(sent.some((r) => r.messages.at(-1)?.content.includes(source(1)))).toBe(true);
    expect(h.sim.usage().totals.requests).toBe(sent.length);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('refuses an OpenAI batch file over maxJsonlBytes without reading it, naming the setting', async () => {
    // Prepare: a file one byte over the limit, and a record of every object the pipeline reads
    const key = 'intake/bigfile/shop/openai-batch/docs/requests.jsonl';
    const filler = line('pad', 'y'.repeat(1_000));
    const body = `${line('ok', source(3))}\n${`${filler}\n`.repeat(Math.ceil(MAX_JSONL_BYTES / filler.length))}`;
    await put(key, body.slice(0, MAX_JSONL_BYTES + 1));
    const reads: string[] = [];
    const objects: ObjectStore = h.deps.objects;
    h.deps.objects = {
      ...objects,
      get: (k) => {
        reads.push(k);
        return objects.get(k);
      },
    };
    const sent = recordCalls();

    try {
      // Act
      const { summary, errors } = await onlyBatchOf('bigfile');

      // Assess
      expect(summary.jobs).toBe(0);
      expect(summary.rejectedInputs).toBe(1);
      expect(errors).toEqual([
        expect.objectContaining({ path: key, state: 'rejected', code: 'too_large' }),
      ]);
      expect(errors[0]?.reason).toMatch(
        new RegExp(
          `${MAX_JSONL_BYTES + 1} bytes, over the ${MAX_JSONL_BYTES}-byte limit .*maxJsonlBytes`,
        ),
      );
      expect(reads).not.toContain(key);
      expect(sent).toEqual([]);
    } finally {
      h.deps.objects = objects;
    }
  });
});

/**
 * A 200 answer whose usage block cannot be read was billed all the same: the client hands it
 * back on the billed list, and the worker records the call's upper-bound estimate in its place,
 * marked billed_unrecorded, rather than lose it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLlmClient } from '../../shared/llm/client';
import { type LlmError, ProviderError } from '../../shared/llm/errors';
import { costRecordFor } from '../../shared/pipeline/costing';
import { parsePricingSettings } from '../../shared/pipeline/settings';
import { defaultCatalog } from '../../shared/pricing/catalog';
import { completion, startScriptedServer } from './scripted-server';

const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('an answer whose usage cannot be read', () => {
  it('is handed back as billed, then recorded as the estimate of its call', async () => {
    // Prepare: the provider answers 200 with a usage block the client cannot read
    const { usage: _gone, ...body } = completion({ id: 'resp-no-usage' });
    const server = await startScriptedServer([
      { status: 200, body: { ...body, usage: { prompt_tokens: 'many' } } },
    ]);
    servers.push(server);
    const client = createLlmClient(
      { public: { name: 'deepseek', baseURL: server.url, apiKey: 'sk-scripted-0002' } },
      {},
    );

    // Act
    const error = await client
      .complete(
        {
          model: 'deepseek-flash',
          messages: [{ role: 'user', content: 'hi' }],
          sensitivity: 'public',
          team: 'payments',
        },
        { deadline: Date.now() + 5_000 },
      )
      .catch((e: unknown) => e);

    // Assess: billed, not lost
    expect(error).toBeInstanceOf(ProviderError);
    const billed = (error as LlmError).billed;
    expect(billed.map((b) => [b.responseId, b.usageUnreadable])).toEqual([['resp-no-usage', true]]);
    const estimate = {
      promptHitTokens: 0,
      promptMissTokens: 1_000,
      completionTokens: 256,
      reasoningTokens: 0,
    };
    const record = costRecordFor(
      { ...(billed[0] as (typeof billed)[number]), sentAt: Date.parse('2026-11-30T12:00:00Z') },
      {
        team: 'payments',
        project: 'checkout',
        batchId: 'b1',
        jobId: 'job-0000',
        kind: 'docs',
        purpose: 'discarded',
      },
      { referenceModel: 'gpt-5.4', pricing: parsePricingSettings({}) },
      defaultCatalog(),
      estimate,
    );
    expect(record).toMatchObject({
      responseId: 'resp-no-usage',
      estimated: 'billed_unrecorded',
      usage: estimate,
      counterfactualNanoUsd: 0,
    });
    // 1,000 x $0.15/M + 256 x $0.60/M, off-peak deepseek-flash
    expect(record.costNanoUsd).toBe(303_600);
  });
});

/**
 * results.jsonl says what actually served each job: the model the provider's response named and
 * its finish_reason, and the endpoint, not the batch's model and a fixed `stop`.
 */
import { describe, expect, it } from 'vitest';
import { useFakePipeline } from '../support/fake-pipeline';
import { manifestFor, source } from './support';

const h = useFakePipeline();
const monthOf = () => h.deps.clock.now().toISOString().slice(0, 7);

describe('results.jsonl', () => {
  it('names the model and finish_reason each answer came back with, and the endpoint that served it', async () => {
    // Prepare: the provider answers job requests (not 1-token warm-ups) as another model, one of
    // them cut at its token limit.
    let answers = 0;
    h.scriptLlm(async (request, real) => {
      const response = await real();
      if (request.maxTokens === 1) return response;
      answers++;
      return {
        ...response,
        model: 'deepseek-chat',
        finishReason: request.messages.at(-1)?.content.includes('a.ts') ? 'length' : 'stop',
      };
    });
    const files = { 'a.ts': source(1), 'b.ts': source(2) };

    // Act
    const ref = await h.submit(manifestFor('served-1', 'ops', Object.keys(files)), files);
    await h.done(ref);

    // Assess
    expect(answers).toBe(2);
    const text = (await h.deps.objects.getText('results/ops/served-1/results.jsonl')) ?? '';
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    type Body = { id: string; model: string; warmbatch: { endpoint?: string } };
    const byPath: Record<string, Body> = Object.fromEntries(
      lines.map((l) => [l.custom_id, l.response.body]),
    );
    const batch = await h.deps.jobs.getBatch(ref);
    expect(batch?.model).toBe('deepseek-flash');
    expect(byPath['a.ts']).toMatchObject({
      model: 'deepseek-chat',
      choices: [{ finish_reason: 'length' }],
    });
    expect(byPath['b.ts']).toMatchObject({
      model: 'deepseek-chat',
      choices: [{ finish_reason: 'stop' }],
    });
    // The endpoint is the one the ledger recorded for the same response.
    const records = await h.deps.ledger.records('ops', monthOf());
    for (const body of Object.values(byPath)) {
      const record = records.find((r) => r.responseId === body.id);
      expect(record?.model).toBe('deepseek-chat');
      expect(body.warmbatch.endpoint).toBe(record?.endpoint);
    }
  });
});

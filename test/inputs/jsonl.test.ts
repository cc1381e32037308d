import { describe, expect, it } from 'vitest';
import { type JsonlOptions, MAX_JSONL_REQUESTS, parseOpenAiBatchJsonl } from '../../shared/inputs';

const options: JsonlOptions = {
  source: 'batches/b-7/requests.jsonl',
  batchId: 'b-7',
  team: 'shop',
  project: 'web',
  kind: 'docs',
  sensitivity: 'public',
};

const request = (overrides: Record<string, unknown> = {}, body: Record<string, unknown> = {}) => ({
  custom_id: 'req-1',
  method: 'POST',
  url: '/v1/chat/completions',
  body: {
    model: 'deepseek-v4-flash',
    messages: [
      { role: 'system', content: 'You document code.' },
      { role: 'user', content: 'Document this.' },
    ],
    ...body,
  },
  ...overrides,
});

const jsonl = (...lines: unknown[]) =>
  lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');

describe('parseOpenAiBatchJsonl', () => {
  it('turns each line into a job carrying its request as given', () => {
    // Act
    const { jobs, rejections } = parseOpenAiBatchJsonl(
      jsonl(request({}, { max_tokens: 500 }), request({ custom_id: 'req-2' })),
      options,
    );

    // Assess
    expect(rejections).toEqual([]);
    expect(jobs).toHaveLength(2);
    expect(jobs[0]).toMatchObject({
      customId: 'req-1',
      path: 'req-1',
      model: 'deepseek-v4-flash',
      inputKey: 'batches/b-7/requests.jsonl',
      outputKey: 'outputs/shop/web/b-7/req-1.md',
      request: { messages: request().body.messages, maxTokens: 500 },
    });
    expect(jobs[1]?.request).toEqual({ messages: request().body.messages });
  });

  it('skips blank lines and tolerates CRLF line ends', () => {
    const text = `${jsonl(request())}\r\n\r\n${jsonl(request({ custom_id: 'b' }))}\r\n`;
    expect(parseOpenAiBatchJsonl(text, options)).toMatchObject({ jobs: [{}, {}], rejections: [] });
  });

  it.each([
    ['bad JSON', '{"custom_id": "x",', 'line 1', 'not valid JSON'],
    [
      'missing custom_id',
      request({ custom_id: undefined }),
      'line 1, custom_id',
      'custom_id is missing',
    ],
    ['wrong method', request({ method: 'GET' }), 'line 1, method', 'POST'],
    ['wrong url', request({ url: '/v1/embeddings' }), 'line 1, url', '/v1/chat/completions'],
    ['missing messages', request({}, { messages: undefined }), 'line 1, body.messages', 'missing'],
    [
      'an unknown role',
      request({}, { messages: [{ role: 'tool', content: 'x' }] }),
      'line 1, body.messages[0].role',
      'not supported',
    ],
    [
      'a non-text content',
      request({}, { messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }),
      'line 1, body.messages[0].content',
      'text only',
    ],
    [
      'a bad max_tokens',
      request({}, { max_tokens: 0 }),
      'line 1, body.max_tokens',
      'positive integer',
    ],
    ['an unsafe custom_id', request({ custom_id: '../x' }), 'line 1, custom_id', "'..'"],
  ])('rejects %s with line, field and reason', (_, line, where, reason) => {
    // Act
    const { jobs, rejections } = parseOpenAiBatchJsonl(jsonl(line), options);

    // Assess
    expect(jobs).toEqual([]);
    expect(rejections).toEqual([
      {
        source: options.source,
        where,
        code: 'bad_jsonl_line',
        reason: expect.stringContaining(reason),
      },
    ]);
  });

  it('keeps the first of two lines with the same custom_id and rejects the second', () => {
    // Act
    const { jobs, rejections } = parseOpenAiBatchJsonl(
      jsonl(request(), request({ custom_id: 'req-2' }), request()),
      options,
    );

    // Assess
    expect(jobs.map((j) => j.customId)).toEqual(['req-1', 'req-2']);
    expect(rejections).toEqual([
      {
        source: options.source,
        where: 'line 3, custom_id',
        code: 'bad_jsonl_line',
        reason: expect.stringContaining('already used on line 1'),
      },
    ]);
  });

  it('rejects a model missing from the catalog when a catalog check is given', () => {
    const { rejections } = parseOpenAiBatchJsonl(jsonl(request({}, { model: 'gpt-9' })), {
      ...options,
      isKnownModel: (m) => m.startsWith('deepseek'),
    });
    expect(rejections).toMatchObject([{ where: 'line 1, body.model' }]);
  });

  it("takes up to OpenAI's 50,000 requests a file and refuses a longer file as a whole", () => {
    const lines = (n: number) =>
      Array.from({ length: n }, (_, i) => JSON.stringify(request({ custom_id: `r-${i}` })));
    const full = parseOpenAiBatchJsonl([...lines(MAX_JSONL_REQUESTS), ''].join('\n'), options);
    expect(full.jobs).toHaveLength(50_000);
    expect(full.rejections).toEqual([]);
    const over = parseOpenAiBatchJsonl(lines(MAX_JSONL_REQUESTS + 1).join('\n'), options);
    expect(over.jobs).toEqual([]);
    expect(over.rejections).toMatchObject([{ code: 'too_large' }]);
    expect(over.rejections[0]?.reason).toContain('50001 requests');
  });

  it('rejects a file that is not UTF-8 as a whole', () => {
    const { jobs, rejections } = parseOpenAiBatchJsonl(new Uint8Array([0x7b, 0xff, 0x7d]), options);
    expect(jobs).toEqual([]);
    expect(rejections).toMatchObject([{ code: 'invalid_utf8' }]);
  });
});

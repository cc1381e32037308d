import { describe, expect, it } from 'vitest';
import { NoEndpointError } from '../../shared/llm/errors';
import { type LlmRouting, selectEndpoint, validateRouting } from '../../shared/llm/routing';

const endpoint = (name: string) => ({
  name,
  baseURL: `https://${name}.example/v1`,
  apiKey: `key-${name}`,
});
const routing = (over: Partial<LlmRouting> = {}): LlmRouting => ({
  public: endpoint('deepseek'),
  ...over,
});

describe('selectEndpoint', () => {
  it('sends public jobs to the public endpoint', () => {
    expect(selectEndpoint(routing(), 'public').name).toBe('deepseek');
  });

  it('sends restricted and internal jobs to their own endpoints', () => {
    // Prepare
    const r = routing({ internal: endpoint('vendor'), restricted: endpoint('selfhosted') });

    // Act / Assess
    expect(selectEndpoint(r, 'internal').name).toBe('vendor');
    expect(selectEndpoint(r, 'restricted').name).toBe('selfhosted');
  });

  it('never falls back to public when a sensitivity has no endpoint', () => {
    // Act
    const attempt = () => selectEndpoint(routing({ internal: endpoint('vendor') }), 'restricted');

    // Assess
    expect(attempt).toThrow(NoEndpointError);
    expect(attempt).toThrow(/restricted/);
  });
});

describe('validateRouting', () => {
  it('rejects a user id longer than DeepSeek accepts', () => {
    expect(() => validateRouting(routing({ userIdByTeam: { big: 'x'.repeat(513) } }))).toThrow(
      /team big/,
    );
  });

  it('rejects an endpoint without a key, naming the endpoint only', () => {
    expect(() =>
      validateRouting(routing({ restricted: { ...endpoint('selfhosted'), apiKey: '' } })),
    ).toThrow(/selfhosted has no API key/);
  });

  it('accepts a complete configuration', () => {
    expect(() =>
      validateRouting(
        routing({ restricted: endpoint('selfhosted'), userIdByTeam: { a: 'team-a' } }),
      ),
    ).not.toThrow();
  });
});

import { describe, expect, it } from 'vitest';
import { NoEndpointError } from '../../shared/llm/errors';
import {
  type LlmRouting,
  priceRoute,
  routeJob,
  selectEndpoint,
  validateRouting,
} from '../../shared/llm/routing';
import { defaultCatalog } from '../../shared/pricing/catalog';

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

describe('routeJob', () => {
  const endpoints = {
    public: { name: 'public' },
    restricted: { name: 'restricted', models: ['deepseek-flash'] },
  };

  it('sends a job to the endpoint of its own sensitivity, with its model', () => {
    expect(routeJob(endpoints, 'public', 'deepseek-v4-pro')).toEqual({
      ok: true,
      candidates: [{ endpoint: 'public', clearedFor: 'public', model: 'deepseek-v4-pro' }],
    });
    expect(routeJob(endpoints, 'restricted', 'deepseek-flash')).toMatchObject({
      ok: true,
      candidates: [{ endpoint: 'restricted', clearedFor: 'restricted' }],
    });
  });

  it('never routes to a lower sensitivity, and says why', () => {
    const route = routeJob(endpoints, 'internal', 'deepseek-flash');

    expect(route).toMatchObject({ ok: false, code: 'no_endpoint' });
    expect(route.ok ? '' : route.reason).toContain('configure endpoints.internal');
  });

  it('refuses a model the endpoint does not serve', () => {
    const route = routeJob(endpoints, 'restricted', 'deepseek-v4-pro');

    expect(route).toMatchObject({ ok: false, code: 'no_endpoint' });
    expect(route.ok ? '' : route.reason).toContain('does not serve deepseek-v4-pro');
  });
});

describe('routeJob with fallbacks', () => {
  const endpoints = {
    public: { name: 'public' },
    restricted: { name: 'restricted' },
    fallbacks: {
      public: [
        { name: 'openai', clearedFor: 'public' as const, model: 'gpt-5.4' },
        { name: 'bedrock', clearedFor: 'internal' as const, models: ['deepseek-chat'] },
      ],
      restricted: [{ name: 'leaky', clearedFor: 'public' as const }],
    },
  };

  it('lists the level’s own endpoint first, then its fallbacks in order, each with the model it serves', () => {
    expect(routeJob(endpoints, 'public', 'deepseek-chat')).toEqual({
      ok: true,
      candidates: [
        { endpoint: 'public', clearedFor: 'public', model: 'deepseek-chat' },
        { endpoint: 'openai', clearedFor: 'public', model: 'gpt-5.4' },
        { endpoint: 'bedrock', clearedFor: 'internal', model: 'deepseek-chat' },
      ],
    });
  });

  it('leaves out a fallback cleared for a lower sensitivity than the job’s', () => {
    const route = routeJob(endpoints, 'restricted', 'deepseek-chat');

    expect(route.ok && route.candidates.map((c) => c.endpoint)).toEqual(['restricted']);
  });

  it('leaves out a fallback that does not serve the model', () => {
    const route = routeJob(endpoints, 'public', 'deepseek-v4-pro');

    expect(route.ok && route.candidates.map((c) => c.endpoint)).toEqual(['public', 'openai']);
  });

  it('prices each candidate at its own worst case: the GPT-5.4 fallback far above DeepSeek', () => {
    // Prepare
    const route = routeJob(endpoints, 'public', 'deepseek-chat');
    const from = new Date('2026-11-30T12:00:00Z');

    // Act
    const priced = route.ok
      ? priceRoute(
          route.candidates.slice(0, 2),
          from,
          new Date('2026-12-01T12:00:00Z'),
          defaultCatalog(),
        )
      : [];

    // Assess: per token of output, GPT-5.4 ($15) over DeepSeek flash at peak ($1.20).
    const [own, fallback] = priced;
    expect(own?.worstPrice.output).toBe(1_200_000);
    expect(fallback?.worstPrice.output).toBe(15_000_000);
  });

  it('refuses a routing whose fallback would serve a lower sensitivity', () => {
    expect(() =>
      validateRouting(
        routing({
          restricted: endpoint('selfhosted'),
          fallbacks: { restricted: [{ ...endpoint('openai'), clearedFor: 'public' }] },
        }),
      ),
    ).toThrow(/cleared for public, below restricted/);
  });
});

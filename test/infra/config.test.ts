import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseConfig, toSettings } from '../../infra/config';
import { REPO_ROOT } from '../../infra/stack';
import { ConfigurationError } from '../../shared/configuration-error';
import { sensitivityFloor } from '../../shared/pipeline/sensitivity';
import { parseSettings } from '../../shared/pipeline/settings';
import { cdkJsonContext } from './stack-factory';

const run = promisify(execFile);

function aRawConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: 'deepseek-flash',
    teams: { platform: { monthlyBudgetUsd: 200 } },
    endpoints: { public: 'https://api.deepseek.com' },
    workerReservedConcurrency: 10,
    providerConcurrency: 16,
    intakeBatchingWindowSeconds: 10,
    ...overrides,
  };
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigurationError);
    return (err as ConfigurationError).message;
  }
  throw new Error('expected a ConfigurationError');
}

describe('warmbatch configuration', () => {
  it('passes pricing settings to the functions and names a bad price row at synth', () => {
    // Prepare
    const row = {
      model: 'deepseek-flash',
      from: '2027-01-01T00:00:00Z',
      flat: { hit: 3_000, miss: 150_000, output: 600_000 },
      source: 'operator row',
    };

    // Act
    const settings = toSettings(
      parseConfig(aRawConfig({ pricing: { instant: 'created', prices: { rows: [row] } } })),
    );
    const message = messageOf(() =>
      parseConfig(
        aRawConfig({ pricing: { prices: { rows: [{ ...row, from: '2027-01-01T00:00:00' }] } } }),
      ),
    );

    // Assess
    expect(settings.pricing).toEqual({ instant: 'created', prices: { rows: [row] } });
    expect(message).toMatch(
      /warmbatch\.pricing\.prices: prices: rows\[0\] \(deepseek-flash from 2027-01-01T00:00:00\): from: must be/,
    );
  });

  it('accepts the defaults in cdk.json', () => {
    // Act
    const config = parseConfig(cdkJsonContext().warmbatch);

    // Assess
    expect(Object.keys(config.teams).length).toBeGreaterThan(0);
    expect(config.workerReservedConcurrency * config.providerConcurrency).toBeLessThanOrEqual(
      config.providerConcurrencyLimit,
    );
  });

  it('names the key and the value of a bad setting', () => {
    // Act
    const message = messageOf(() => parseConfig(aRawConfig({ workerReservedConcurrency: -3 })));

    // Assess
    expect(message).toContain('warmbatch.workerReservedConcurrency');
    expect(message).toContain('got -3');
  });

  it('names a nested bad value, such as a team budget given as text', () => {
    // Act
    const message = messageOf(() =>
      parseConfig(aRawConfig({ teams: { platform: { monthlyBudgetUsd: '200' } } })),
    );

    // Assess
    expect(message).toContain('warmbatch.teams.platform.monthlyBudgetUsd');
    expect(message).toContain('got "200"');
  });

  it('rejects a team name that cannot be an S3 prefix segment', () => {
    // Act
    const message = messageOf(() =>
      parseConfig(aRawConfig({ teams: { 'Team A/../b': { monthlyBudgetUsd: 1 } } })),
    );

    // Assess
    expect(message).toContain('Team A/../b');
  });

  it('rejects an unknown key rather than ignoring a typo', () => {
    // Act
    const message = messageOf(() => parseConfig(aRawConfig({ workerConcurrency: 5 })));

    // Assess
    expect(message).toContain('workerConcurrency');
  });

  it('refuses a restricted endpoint that is the public one', () => {
    // Act
    const message = messageOf(() =>
      parseConfig(
        aRawConfig({
          endpoints: {
            public: 'https://api.deepseek.com',
            restricted: 'https://api.deepseek.com/v1',
          },
        }),
      ),
    );

    // Assess
    expect(message).toContain('warmbatch.endpoints.restricted');
    expect(message).toContain('https://api.deepseek.com/v1');
  });

  it('refuses a plain-http endpoint', () => {
    // Act
    const message = messageOf(() =>
      parseConfig(
        aRawConfig({
          endpoints: { public: 'https://api.deepseek.com', internal: 'http://llm.corp' },
        }),
      ),
    );

    // Assess
    expect(message).toContain('warmbatch.endpoints.internal');
    expect(message).toContain('http://llm.corp');
  });

  it('refuses worker concurrency that would exceed the provider limit', () => {
    // Act
    const message = messageOf(() =>
      parseConfig(
        aRawConfig({
          workerReservedConcurrency: 100,
          providerConcurrency: 10,
          providerConcurrencyLimit: 500,
        }),
      ),
    );

    // Assess
    expect(message).toContain('warmbatch.workerReservedConcurrency');
    expect(message).toContain('1000 requests in flight');
  });

  it('accepts the configuration as JSON text, as `cdk -c warmbatch=...` passes it', () => {
    // Act
    const config = parseConfig(JSON.stringify(aRawConfig()));

    // Assess
    expect(config.model).toBe('deepseek-flash');
  });

  it('gives functions budgets in integer nano-USD and only the endpoints configured', () => {
    // Prepare
    const config = parseConfig(
      aRawConfig({
        endpoints: { public: 'https://api.deepseek.com', restricted: 'https://llm.internal.corp' },
      }),
    );

    // Act
    const settings = toSettings(config);

    // Assess
    expect(settings.budgets?.platform).toBe(200_000_000_000);
    expect(settings.endpoints.restricted).toEqual({
      name: 'restricted',
      baseURL: 'https://llm.internal.corp',
    });
    expect(settings.endpoints.internal).toBeUndefined();
  });

  it('passes fallbacks per sensitivity to the functions, which read them as routing', () => {
    // Prepare
    const config = parseConfig(
      aRawConfig({
        endpoints: { public: 'https://api.deepseek.com', restricted: 'https://llm.internal.corp' },
        fallbacks: {
          public: [
            {
              name: 'openai',
              baseURL: 'https://api.openai.com/v1',
              clearedFor: 'public',
              model: 'gpt-5.4',
              userIdField: 'user',
            },
          ],
        },
      }),
    );

    // Act
    const settings = parseSettings(toSettings(config));

    // Assess
    expect(settings.endpoints.fallbacks?.public).toEqual([
      {
        name: 'openai',
        baseURL: 'https://api.openai.com/v1',
        clearedFor: 'public',
        model: 'gpt-5.4',
        userIdField: 'user',
      },
    ]);
    expect(settings.endpoints.fallbacks?.restricted).toBeUndefined();
  });

  it('refuses a fallback cleared below the sensitivity it would serve', () => {
    // Act
    const message = messageOf(() =>
      parseConfig(
        aRawConfig({
          endpoints: {
            public: 'https://api.deepseek.com',
            restricted: 'https://llm.internal.corp',
          },
          fallbacks: {
            restricted: [
              { name: 'openai', baseURL: 'https://api.openai.com/v1', clearedFor: 'public' },
            ],
          },
        }),
      ),
    );

    // Assess
    expect(message).toContain('warmbatch.fallbacks.restricted.0.clearedFor');
    expect(message).toContain('never a lower sensitivity');
  });

  it('passes each team and project sensitivity to the functions, public where unset', () => {
    // Prepare
    const config = parseConfig(
      aRawConfig({
        teams: {
          platform: { monthlyBudgetUsd: 200 },
          vault: {
            monthlyBudgetUsd: 10,
            sensitivity: 'internal',
            projects: { secrets: { sensitivity: 'restricted' } },
          },
        },
      }),
    );

    // Act
    const settings = parseSettings(toSettings(config));

    // Assess
    expect(sensitivityFloor(settings, 'platform', 'api')).toBe('public');
    expect(sensitivityFloor(settings, 'vault', 'docs')).toBe('internal');
    expect(sensitivityFloor(settings, 'vault', 'secrets')).toBe('restricted');
  });

  it('passes a shadow run to the functions, and refuses a rate above 1', () => {
    // Act
    const settings = parseSettings(
      toSettings(parseConfig(aRawConfig({ shadow: { model: 'deepseek-v4-pro', rate: 0.1 } }))),
    );
    const message = messageOf(() =>
      parseConfig(aRawConfig({ shadow: { model: 'deepseek-v4-pro', rate: 2 } })),
    );

    // Assess
    expect(settings.shadow).toEqual({ model: 'deepseek-v4-pro', rate: 0.1 });
    expect(message).toContain('warmbatch.shadow.rate');
  });

  it('names a bad sensitivity with its key', () => {
    // Act
    const message = messageOf(() =>
      parseConfig(
        aRawConfig({
          teams: {
            platform: { monthlyBudgetUsd: 200, projects: { api: { sensitivity: 'secret' } } },
          },
        }),
      ),
    );

    // Assess
    expect(message).toContain('warmbatch.teams.platform.projects.api.sensitivity');
    expect(message).toContain('"secret"');
  });

  it('stops synth with a message naming the bad key and value', async () => {
    // Prepare
    const context = { warmbatch: aRawConfig({ intakeBatchingWindowSeconds: 900 }) };

    // Act
    const result = await run('npx', ['tsx', 'infra/app.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context) },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('warmbatch.intakeBatchingWindowSeconds');
    expect(result.stderr).toContain('got 900');
  });
});

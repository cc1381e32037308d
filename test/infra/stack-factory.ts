import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { CONFIG_CONTEXT_KEY, parseConfig, type WarmbatchConfig } from '../../infra/config';
import { REPO_ROOT, WarmbatchStack } from '../../infra/stack';
import { STACK_NAME } from '../../shared/resources';
import { afterThisFile } from '../support/file-cleanup';

const FIXTURE_HANDLER = path.join(REPO_ROOT, 'test/infra/fixtures/fixture-handler.ts');

/** The folder a test file's apps synthesize into: removed after the file. */
let scratch: string | undefined;

/**
 * An output folder for an app: without one an app synthesizes into a folder of the system's
 * temp folder that nothing removes.
 */
export function cdkOutdir(): string {
  if (!scratch) {
    const made = mkdtempSync(path.join(tmpdir(), 'warmbatch-cdk-'));
    scratch = made;
    afterThisFile(() => {
      if (scratch === made) scratch = undefined;
      rmSync(made, { recursive: true, force: true });
    });
  }
  return mkdtempSync(path.join(scratch, 'cdk.out-'));
}

/** The context cdk.json gives the app (feature flags and the warmbatch configuration). */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

/** The configuration in cdk.json, with some values replaced. */
export function aConfig(overrides: Partial<WarmbatchConfig> = {}): WarmbatchConfig {
  return { ...parseConfig(cdkJsonContext()[CONFIG_CONTEXT_KEY]), ...overrides };
}

/**
 * An app and stack as infra/app.ts builds them, with bundling skipped (tests check the
 * template, not the bundles) and every function pointed at a test-only fixture handler.
 */
export function aStack(config: WarmbatchConfig = aConfig()): { app: App; stack: WarmbatchStack } {
  const app = new App({
    outdir: cdkOutdir(),
    context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] },
  });
  const stack = new WarmbatchStack(app, STACK_NAME, { config, entryFor: () => FIXTURE_HANDLER });
  return { app, stack };
}

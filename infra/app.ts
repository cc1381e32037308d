import { App } from 'aws-cdk-lib';
import { ConfigurationError } from '../shared/configuration-error';
import { STACK_NAME } from '../shared/resources';
import { CONFIG_CONTEXT_KEY, parseConfig, type WarmbatchConfig } from './config';
import { applyNagChecks } from './nag';
import { WarmbatchStack } from './stack';

// One app, one stack. The configuration lives in cdk.json under context.warmbatch; a bad
// value stops synth with a message naming the key and the value.
const app = new App();
let config: WarmbatchConfig | undefined;
try {
  config = parseConfig(app.node.tryGetContext(CONFIG_CONTEXT_KEY));
} catch (err) {
  if (!(err instanceof ConfigurationError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 1;
}
if (config) {
  new WarmbatchStack(app, STACK_NAME, {
    config,
    description: 'warmbatch: cache-aware LLM batch generation of docs and tests',
  });
  applyNagChecks(app);
  app.synth();
}

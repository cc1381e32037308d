#!/usr/bin/env node
// Entry for `npx warmbatch`: runs the JavaScript that `npm ci` built into dist/cli/ (cli/build.mjs).
// A checkout whose cli/, shared/, local/ or bench/ sources changed since that build runs the
// TypeScript sources through tsx instead (a dev dependency), so it never runs stale code.
import { existsSync, readFileSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const built = new URL('dist/cli/main.js', root);
const stamp = new URL('dist/cli/build.json', root);

// warmbatch supports Node 20.19 and later (package.json engines) and pins AWS SDK versions that
// do; the SDK's notice that its releases after January 2027 will need Node 22 is for those who
// upgrade it, not for people running this tool.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** True when dist/cli/ is missing or older than a source it was built from. */
function stale() {
  if (!existsSync(built) || !existsSync(stamp)) return true;
  try {
    const { builtAt, inputs } = JSON.parse(readFileSync(stamp, 'utf8'));
    return inputs.some((path) => {
      try {
        return statSync(new URL(path, root)).mtimeMs > builtAt;
      } catch {
        return true;
      }
    });
  } catch {
    return true;
  }
}

if (!stale()) {
  await import(built.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(
      'warmbatch: the command is not built (dist/cli/ is missing or older than its sources) and tsx is not installed to run the sources: run `npm ci` or `npm run build` in the warmbatch folder\n',
    );
    process.exit(1);
  }
  register();
  await import('./main.ts');
}

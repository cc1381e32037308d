#!/usr/bin/env node
// Entry for this repository's tools (`npm start`, `npm run sim`, `npm run bench`): runs the
// JavaScript that `npm ci` built into dist/tools/ (packages/tools/build.mjs) while it is newer than
// every source it came from, else the TypeScript sources through tsx.
import { existsSync, readFileSync, statSync } from 'node:fs';

const root = new URL('../../', import.meta.url);
const built = new URL('dist/tools/main.js', root);
const stamp = new URL('dist/tools/build.json', root);

// The SDK's notice about its releases after January 2027 concerns later versions than the
// pinned ones (see packages/cli/bin.js).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** True when dist/tools/ is missing or older than a source it was built from. */
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
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.ts');
}

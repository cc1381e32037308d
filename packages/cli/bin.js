#!/usr/bin/env node
// Entry for `warmbatch`. Installed from the package, it runs the JavaScript built into dist/.
// In the warmbatch repository (where the sources sit two folders up), it runs that build while
// it is newer than every source it came from, else the TypeScript sources through tsx (a dev
// dependency there), so it never runs stale code; there it also finds the local runtime that
// `npm start` runs (its .local/warmbatch.json) unless WARMBATCH_LOCAL_CONFIG says otherwise.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = new URL('./', import.meta.url);
const built = new URL('dist/main.js', here);
const stamp = new URL('dist/build.json', here);
const root = new URL('../../', here);
const sources = new URL('cli/main.ts', root);
// Installed, this file sits in node_modules/warmbatch/; only the repository has packages/cli/.
const checkout = here.pathname.endsWith('/packages/cli/') && existsSync(sources);

// warmbatch supports Node 20.19 and later (package.json engines) and pins AWS SDK versions that
// do; the SDK's notice that its releases after January 2027 will need Node 22 is for those who
// upgrade it, not for people running this tool.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** True when dist/ is missing or older than a source it was built from. */
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

if (checkout) {
  process.env.WARMBATCH_LOCAL_CONFIG ||= fileURLToPath(new URL('.local/warmbatch.json', root));
}

if (!checkout || !stale()) {
  await import(built.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(
      'warmbatch: the command is not built (packages/cli/dist/ is missing or older than its sources) and tsx is not installed to run the sources: run `npm ci` or `npm run build` in the warmbatch folder\n',
    );
    process.exit(1);
  }
  register();
  await import(sources.href);
}

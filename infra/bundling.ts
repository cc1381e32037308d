import { type BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

/**
 * How every handler is bundled: one definition read by the stack (NodejsFunction, local
 * esbuild, no Docker) and by bench/bundles.ts, so the benchmark measures what is deployed.
 * ESM so handlers may use top-level await; the banner gives CommonJS dependencies a `require`.
 * The AWS SDK v3 stays external: Lambda's Node 22 runtime provides it.
 */
export const BUNDLE = {
  target: 'node22',
  platform: 'node',
  minify: true,
  sourcemap: true,
  // Without sources the map drops from about 5 MB to under 1 MB per function.
  sourcesContent: false,
  external: ['@aws-sdk/*'],
  mainFields: ['module', 'main'],
  banner:
    "import { createRequire as __wbCreateRequire } from 'node:module';const require = __wbCreateRequire(import.meta.url);",
} as const;

/** NodejsFunction `bundling` props equivalent to {@link BUNDLE}. */
export function cdkBundling(): BundlingOptions {
  return {
    target: BUNDLE.target,
    format: OutputFormat.ESM,
    minify: BUNDLE.minify,
    sourceMap: BUNDLE.sourcemap,
    sourcesContent: BUNDLE.sourcesContent,
    externalModules: [...BUNDLE.external],
    mainFields: [...BUNDLE.mainFields],
    banner: BUNDLE.banner,
  };
}

/** esbuild `build()` options equivalent to {@link BUNDLE}, writing `outfile`. */
export function esbuildOptions(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    target: BUNDLE.target,
    platform: BUNDLE.platform,
    minify: BUNDLE.minify,
    sourcemap: BUNDLE.sourcemap,
    sourcesContent: BUNDLE.sourcesContent,
    external: [...BUNDLE.external],
    mainFields: [...BUNDLE.mainFields],
    banner: { js: BUNDLE.banner },
    logLevel: 'silent',
  };
}

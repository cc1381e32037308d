/**
 * The catalog the CLI prices with: the built-in history, then the deployment's
 * `config/prices.json` (when the command reaches a deployment), then `--prices <file>`, each
 * merged over the one before. The stack settings' `pricing.prices` reach the functions only:
 * keep operator rows in `config/prices.json` so the CLI and the functions agree.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigurationError } from '../../shared/configuration-error';
import { bucketPriceLayer, PRICES_KEY, SETTINGS_ORIGIN } from '../../shared/pipeline/prices';
import { type PricingSettings, parsePricingSettings } from '../../shared/pipeline/settings';
import type { ObjectStore } from '../../shared/ports/objects';
import {
  buildCatalog,
  builtInLayer,
  type Catalog,
  CatalogError,
  type PriceLayer,
} from '../../shared/pricing/catalog';
import { PriceFileError, parsePriceData } from '../../shared/pricing/schema';
import { instant } from './args';
import { UsageError } from './exit';

/** The flags of every command that prices. */
export interface PriceFlags {
  /** A local price file merged over the built-in rows (and the deployment's). */
  prices?: string;
  /** When deepseek-v4-flash became billed as deepseek-flash (docs/pricing.md). */
  v41SwitchAt?: Date;
}

/** Adds `--prices <file>` and `--v41-switch-at <time>` to a command that prices. */
export function withPriceOptions(command: Command): Command {
  return command
    .option(
      '--prices <file>',
      'price file (JSON) merged over the built-in rows; docs/pricing.md says how to write one',
    )
    .option(
      '--v41-switch-at <time>',
      'instant the V4.1 Flash prices start (default 2026-09-09T16:00:00Z; sources also say 2026-09-10T04:00:00Z)',
      instant,
    );
}

/**
 * Builds the CLI's catalog. A broken price file is a usage error naming the file and the bad
 * row (exit 2).
 */
export async function cliCatalog(
  flags: PriceFlags,
  where: {
    cwd: string;
    deployment?: { objects: ObjectStore; bucket?: string };
    /**
     * The stack's own `pricing` settings (its V4.1 switch instant and price rows), so that the
     * CLI prices as the functions do; flags still win.
     */
    stack?: Pick<PricingSettings, 'v41SwitchAt' | 'prices'>;
  },
): Promise<Catalog> {
  try {
    const v41SwitchAt = flags.v41SwitchAt?.toISOString() ?? where.stack?.v41SwitchAt;
    const layers: PriceLayer[] = [builtInLayer(v41SwitchAt ? { v41SwitchAt } : {})];
    if (where.stack?.prices !== undefined)
      layers.push({
        origin: SETTINGS_ORIGIN,
        data: parsePriceData(where.stack.prices, SETTINGS_ORIGIN),
      });
    if (where.deployment) {
      const { objects, bucket } = where.deployment;
      const layer = await bucketPriceLayer(
        objects,
        bucket ? `s3://${bucket}/${PRICES_KEY}` : `deployment ${PRICES_KEY}`,
      );
      if (layer) layers.push(layer);
    }
    if (flags.prices !== undefined) {
      const path = resolve(where.cwd, flags.prices);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read price file ${path}: ${(err as Error).message}`);
      }
      layers.push({ origin: path, data: parsePriceData(text, path) });
    }
    return buildCatalog(layers);
  } catch (err) {
    if (err instanceof PriceFileError || err instanceof CatalogError)
      throw new UsageError(err.message, { cause: err });
    throw err;
  }
}

/** The context key of the stack's configuration in cdk.json (infra/config.ts). */
const STACK_CONTEXT_KEY = 'warmbatch';

/**
 * The stack's `pricing` settings, read from its CDK app's cdk.json (`context.warmbatch.pricing`):
 * `path` when given, else `cdk.json` in `cwd` if there is one. Undefined when there is none, or
 * it configures no pricing.
 * @throws UsageError when the file cannot be read or its pricing settings are invalid.
 */
export async function stackPricing(
  cwd: string,
  path: string | undefined,
): Promise<PricingSettings | undefined> {
  const file = resolve(cwd, path ?? 'cdk.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (path === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read the stack configuration ${file}: ${(err as Error).message}`);
  }
  let context: unknown;
  try {
    context = (JSON.parse(text) as { context?: Record<string, unknown> }).context?.[
      STACK_CONTEXT_KEY
    ];
  } catch {
    throw new UsageError(`${file} is not JSON`);
  }
  const raw = typeof context === 'string' ? JSON.parse(context) : context;
  const pricing = (raw as { pricing?: unknown } | undefined)?.pricing;
  if (pricing === undefined) return undefined;
  try {
    return parsePricingSettings(pricing);
  } catch (err) {
    if (err instanceof ConfigurationError)
      throw new UsageError(`${file}: context.${STACK_CONTEXT_KEY}.${err.message}`);
    throw err;
  }
}

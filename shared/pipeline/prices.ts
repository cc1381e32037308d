/**
 * Where the pipeline's prices come from: the built-in history, then the stack settings'
 * `pricing.prices`, then the bucket's `config/prices.json`, each merged over the one before.
 * Operators change prices by writing that object; the functions read it again every
 * `pricing.reloadSeconds`, so no release or deploy is needed.
 */
import type { Clock } from '../clock';
import type { Logger } from '../ports/logger';
import type { ObjectStore } from '../ports/objects';
import {
  type BuiltInOptions,
  buildCatalog,
  builtInLayer,
  type Catalog,
  type PriceLayer,
} from '../pricing/catalog';
import { parsePriceData } from '../pricing/schema';
import { PREFIXES } from '../resources';

/** The operators' price file in the pipeline's bucket. */
export const PRICES_KEY = `${PREFIXES.config}prices.json`;

/** Origin of the stack settings' price rows. */
export const SETTINGS_ORIGIN = 'settings.pricing.prices';

/**
 * The part of the pipeline's settings prices are read from (its `pricing`, as
 * shared/pipeline/settings.ts parses it). Declared here, not imported: settings.ts checks its
 * reference model against these layers, so importing its type back would make a circle.
 */
export interface PriceSettings {
  pricing: {
    /** Price data merged over the built-in rows, checked when the settings were parsed. */
    prices?: unknown;
    v41SwitchAt: string;
    reloadSeconds: number;
  };
}

/** The catalog the pipeline prices with, reloaded now and then. */
export interface PriceSource {
  catalog(): Promise<Catalog>;
}

/** The price file in a bucket as a layer, or undefined when there is none. */
export async function bucketPriceLayer(
  objects: ObjectStore,
  origin: string,
): Promise<PriceLayer | undefined> {
  const text = await objects.getText(PRICES_KEY);
  return text === undefined ? undefined : { origin, data: parsePriceData(text, origin) };
}

/** The layers every price source starts from: the built-in history and the settings' rows. */
export function settingsLayers(settings: PriceSettings): {
  builtIn: BuiltInOptions;
  layers: PriceLayer[];
} {
  const { prices, v41SwitchAt } = settings.pricing;
  const builtIn = { v41SwitchAt };
  return {
    builtIn,
    layers: [
      builtInLayer(builtIn),
      ...(prices === undefined
        ? []
        : [{ origin: SETTINGS_ORIGIN, data: parsePriceData(prices, SETTINGS_ORIGIN) }]),
    ],
  };
}

/**
 * A price source over the settings and the bucket's price file, re-read once `reloadSeconds`
 * have passed on `clock`. A price file that cannot be read or merged is logged as an error and
 * left out (the last good catalog stays in use): a typo must not stop billing, and a response
 * its rows would have priced is recorded unpriced, to be repriced once the file is fixed.
 */
export function createPriceSource(deps: {
  objects: ObjectStore;
  settings: PriceSettings;
  clock: Clock;
  logger?: Logger;
  /** How the bucket is named in row origins: `s3://<bucket>/config/prices.json`. */
  bucketOrigin?: string;
}): PriceSource {
  const base = settingsLayers(deps.settings).layers;
  const baseline = buildCatalog(base);
  const origin = deps.bucketOrigin ?? PRICES_KEY;
  const ttlMs = deps.settings.pricing.reloadSeconds * 1000;
  let current: { catalog: Catalog; loadedAt: number } | undefined;
  let loading: Promise<Catalog> | undefined;

  const load = async (): Promise<Catalog> => {
    let catalog = current?.catalog ?? baseline;
    try {
      const layer = await bucketPriceLayer(deps.objects, origin);
      catalog = buildCatalog(layer ? [...base, layer] : base);
    } catch (err) {
      deps.logger?.error('price file left out', {
        key: PRICES_KEY,
        error: (err as Error).message,
      });
    }
    current = { catalog, loadedAt: deps.clock.now().getTime() };
    return catalog;
  };

  return {
    catalog: async () => {
      const now = deps.clock.now().getTime();
      if (current && now - current.loadedAt < ttlMs && now >= current.loadedAt)
        return current.catalog;
      loading ??= load().finally(() => {
        loading = undefined;
      });
      return loading;
    },
  };
}

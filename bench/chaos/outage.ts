/**
 * The outage mix's figures: which endpoint served each job, what the fallback's answers cost in
 * the ledger against its bill, what the public endpoint's breaker did, and whether any request
 * of the restricted batch reached a public endpoint.
 */
import type { SimBilledCall } from '../../local/sim/server';
import { createDynamoBreakerStore } from '../../shared/aws/breaker-store';
import type { CostRecord } from '../../shared/ports/ledger';
import { ENDPOINT_NAMES } from '../../shared/resources';
import type { InputStates } from './inspect';
import { inputOf } from './judge';
import type { OutageFigures } from './mixes';
import type { MixContext } from './run-mix';

/** The fallback endpoint's name in the campaign's settings (the ledger's `endpoint`). */
export const FALLBACK_ENDPOINT = 'public-fallback';

export async function outageFigures(
  ctx: MixContext,
  seen: {
    records: readonly CostRecord[];
    fallbackCalls: readonly SimBilledCall[];
    publicCalls: readonly SimBilledCall[];
    restricted: readonly string[];
    state: InputStates;
  },
): Promise<OutageFigures> {
  const { runtime, deps } = ctx.pipeline;
  const jobs = seen.records.filter((r) => r.purpose === 'job' && !r.estimated);
  const jobsByEndpoint: Record<string, number> = {};
  for (const r of jobs) jobsByEndpoint[r.endpoint] = (jobsByEndpoint[r.endpoint] ?? 0) + 1;
  const onFallback = seen.records.filter((r) => r.endpoint === FALLBACK_ENDPOINT);
  const breaker = await createDynamoBreakerStore(
    runtime.clients.doc,
    runtime.resources.tables.jobs,
  ).get(ENDPOINT_NAMES.public);
  const restrictedSteps = new Set(
    seen.restricted.map((k) => Number(/step(\d+)\.ts$/.exec(k)?.[1])),
  );
  const toPublic = [...seen.publicCalls, ...seen.fallbackCalls].filter((c) =>
    restrictedSteps.has(inputOf(c.messages) ?? -1),
  );
  let restrictedOutputs = 0;
  for (const key of seen.restricted) {
    const done = (seen.state.jobsByInput.get(key) ?? []).filter((j) => j.state === 'succeeded');
    for (const j of done.slice(0, 1))
      if ((await deps.objects.size(j.outputKey)) !== undefined) restrictedOutputs++;
  }
  return {
    jobsByEndpoint,
    servedByFallback: jobsByEndpoint[FALLBACK_ENDPOINT] ?? 0,
    fallbackModel: ctx.fallback?.model ?? '',
    fallbackLedgerNanoUsd: onFallback.reduce((n, r) => n + r.costNanoUsd, 0),
    fallbackBilledNanoUsd: seen.fallbackCalls.reduce((n, c) => n + c.usage.costNanoUsd, 0),
    refusedByPrimary: ctx.sim.options.outage?.refused ?? 0,
    breaker: {
      opened: breaker?.opened ?? 0,
      closed: breaker?.closed ?? 0,
      status: breaker?.status ?? 'closed',
    },
    restricted: {
      inputs: seen.restricted.length,
      outputs: restrictedOutputs,
      requestsToPublic: toPublic.length,
    },
  };
}

/**
 * The outage mix's figures: which endpoint served each job, what the fallback's answers cost in
 * the ledger against its bill, what the public endpoint's breaker did, and whether any request
 * of the restricted batch reached a public endpoint.
 */
import type { SimBilledCall } from '../../local/sim/server';
import { createDynamoBreakerStore } from '../../shared/aws/breaker-store';
import type { CostRecord } from '../../shared/ports/ledger';
import { ENDPOINT_NAMES } from '../../shared/resources';
import type { MixContext } from './context';
import { type InputStates, TEAM } from './inspect';
import { inputOf } from './judge';
import type { OutageFigures } from './mixes';

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
  // results.jsonl names what served: the fallback's model and endpoint, its own finish_reason.
  let resultsFromFallback = 0;
  for (const batchId of seen.state.batches) {
    const text = (await deps.objects.getText(`results/${TEAM}/${batchId}/results.jsonl`)) ?? '';
    for (const line of text.split('\n').filter(Boolean)) {
      const body = (JSON.parse(line) as { response?: { body?: ResultBody } }).response?.body;
      if (
        body?.warmbatch?.endpoint === FALLBACK_ENDPOINT &&
        body.model === ctx.fallback?.model &&
        body.choices?.[0]?.finish_reason === 'stop'
      )
        resultsFromFallback++;
    }
  }
  let restrictedOutputs = 0;
  for (const key of seen.restricted) {
    const done = (seen.state.jobsByInput.get(key) ?? []).filter((j) => j.state === 'succeeded');
    for (const j of done.slice(0, 1))
      if ((await deps.objects.size(j.outputKey)) !== undefined) restrictedOutputs++;
  }
  return {
    jobsByEndpoint,
    servedByFallback: jobsByEndpoint[FALLBACK_ENDPOINT] ?? 0,
    resultsFromFallback,
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

/** The part of a results.jsonl body read here. */
interface ResultBody {
  model?: string;
  choices?: { finish_reason?: string }[];
  warmbatch?: { endpoint?: string };
}

/** The campaign's table: one row per mix. */
import type { MixResult } from './mixes';

export function table(results: readonly MixResult[]): string {
  const base = results.find((r) => r.mix === 'baseline');
  const rows = results.map((r) => {
    const ratio = (x: number, b?: number) => (b ? `${(x / b).toFixed(2)}x` : '-');
    const p = r.provider;
    return [
      r.mix,
      String(r.inputs),
      String(r.outputs),
      String(r.failedHonestly),
      r.lost === 0
        ? '0'
        : `${r.lost} (${Object.entries(r.lostReasons)
            .map(([why, n]) => `${n} ${why}`)
            .join(', ')})`,
      `${p.billedRequests} / ${p.recordedExactly} + ${p.recordedAsEstimates}`,
      String(p.billedTwiceForAnInput),
      `${p.billedNotRecorded} (${p.billedAbandoned} abandoned)`,
      String(p.estimatesWithoutBill),
      p.estimatesBelowBill + p.uncovered === 0
        ? 'yes'
        : `NO (${p.estimatesBelowBill} below, ${p.uncovered} none)`,
      r.ledgerMatches ? 'yes' : 'NO',
      `$${(r.ledger.costNanoUsd / 1e9).toFixed(4)} / $${(r.sim.costNanoUsd / 1e9).toFixed(4)}`,
      r.kills.count === 0
        ? '-'
        : `${r.kills.count} (${r.kills.inFlightAtKill.join(', ')} in flight)`,
      `${(r.completionMs.p50 / 1000).toFixed(1)} s (${ratio(r.completionMs.p50, base?.completionMs.p50)})`,
      `${(r.completionMs.p95 / 1000).toFixed(1)} s (${ratio(r.completionMs.p95, base?.completionMs.p95)})`,
    ];
  });
  const head = [
    'mix',
    'inputs',
    'outputs',
    'failed (honest)',
    'lost',
    'provider billed / recorded exactly + estimates',
    'provider billed twice',
    'billed, not recorded exactly',
    'estimates without a bill',
    'estimates >= bill',
    'ledger = bill',
    'ledger / provider $',
    'SIGKILLs (calls in flight)',
    'p50',
    'p95',
  ];
  const line = (r: readonly string[]) => `| ${r.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}
/** The outage mix's figures, under the table; empty when no outage mix ran. */
export function outageReport(results: readonly MixResult[]): string {
  const usd = (nano: number) => `$${(nano / 1e9).toFixed(6)}`;
  return results
    .filter((r) => r.outage)
    .map((r) => {
      const o = r.outage;
      if (!o) return '';
      return [
        `${r.mix}: job answers by endpoint ${JSON.stringify(o.jobsByEndpoint)}`,
        `  served by the fallback (${o.fallbackModel}): ${o.servedByFallback} (${o.resultsFromFallback} so named in results.jsonl), ledger ${usd(o.fallbackLedgerNanoUsd)} = its bill ${usd(o.fallbackBilledNanoUsd)}: ${o.fallbackLedgerNanoUsd === o.fallbackBilledNanoUsd ? 'yes' : 'NO'}`,
        `  public endpoint: ${o.refusedByPrimary} requests refused with 503; breaker opened ${o.breaker.opened}, closed ${o.breaker.closed}, now ${o.breaker.status}`,
        `  restricted batch: ${o.restricted.outputs}/${o.restricted.inputs} outputs, ${o.restricted.requestsToPublic} requests to a public endpoint`,
        `  lost: ${r.lost}`,
      ].join('\n');
    })
    .join('\n');
}

/**
 * How a batch's quality counters move between daily roll-ups when its verdicts are recorded
 * again: pure arithmetic over the marker's rows, kept apart from the ledger store's writes.
 */

import { QUALITY_FIELDS, type QualityTotals } from '../quality/verdicts';
import type { Kind, Lane } from '../types';

/** A batch's quality counters as the marker keeps them, with the month they were booked in. */
export interface QualityMarkerRow {
  project: string;
  model: string;
  kind: Kind;
  lane: Lane;
  month?: string;
  /** The UTC day the counters were booked on in the daily roll-ups (absent on older markers). */
  day?: string;
  quality: Partial<QualityTotals>;
}

/**
 * The changes to the daily roll-ups: the counters recorded before leave the day they were
 * booked on (none, for a marker written before days were kept: they were never in a daily
 * roll-up) and the new ones go to their day; one entry a day, days with no change left out.
 */
export function dailyQualityDeltas(
  was: QualityMarkerRow | undefined,
  now: (QualityMarkerRow & { day: string }) | undefined,
): { day: string; row: QualityMarkerRow; delta: Record<string, number> }[] {
  const byDay = new Map<string, { row: QualityMarkerRow; delta: Record<string, number> }>();
  for (const [side, sign] of [
    [was, -1],
    [now, 1],
  ] as const) {
    if (!side?.day) continue;
    const entry = byDay.get(side.day) ?? { row: side, delta: {} };
    for (const f of QUALITY_FIELDS) {
      const v = side.quality[f] ?? 0;
      if (v !== 0) entry.delta[f] = (entry.delta[f] ?? 0) + sign * v;
    }
    byDay.set(side.day, entry);
  }
  const out: { day: string; row: QualityMarkerRow; delta: Record<string, number> }[] = [];
  for (const [day, { row, delta }] of byDay) {
    for (const f of Object.keys(delta)) if (delta[f] === 0) delete delta[f];
    if (Object.keys(delta).length > 0) out.push({ day, row, delta });
  }
  return out;
}

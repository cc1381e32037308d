/**
 * Shadow comparison: a seeded sample of a batch's jobs runs on a second model as well, in a
 * batch of its own (lane `shadow`), so that both outputs can be validated the same way and the
 * models compared on pass rate and cost per passing test before work moves from one to the other.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';

export const ShadowSchema = z.strictObject({
  /** The second model, from the price catalog. */
  model: z.string().min(1),
  /** Share of the batch's jobs run on it as well, 0-1. */
  rate: z.number().min(0).max(1),
  /** Seed of the sample; default the batch id, so a batch planned again samples the same jobs. */
  seed: z.string().min(1).max(128).optional(),
});
export type Shadow = z.infer<typeof ShadowSchema>;

/** Whether a job's path is in the shadow sample: a hash of the seed and path below the rate. */
export function inShadowSample(seed: string, path: string, rate: number): boolean {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  const digest = createHash('sha256').update(`${seed}\0${path}`, 'utf8').digest();
  return digest.readUInt32BE(0) / 4_294_967_296 < rate;
}

/** The id of a batch's shadow batch: `<batchId>-shadow`, or a hash when that is too long. */
export function shadowBatchIdOf(batchId: string): string {
  const id = `${batchId}-shadow`;
  if (id.length <= 128) return id;
  return `shadow-${createHash('sha256').update(batchId, 'utf8').digest('hex').slice(0, 32)}`;
}

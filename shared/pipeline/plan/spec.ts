/**
 * What every step of the planner shares: the batch about to be planned, the models it may
 * name, and how long a planning can still be running.
 */
import type { Job, Rejection } from '../../inputs';
import type { NewBatch } from '../../ports/jobs';
import type { Catalog } from '../../pricing/catalog';
import type { Shadow } from '../../quality/shadow';
import { FUNCTIONS } from '../../resources';

/** Models with a price in the catalog; manifests and OpenAI batch lines must name one. */
export const knownModelTest = (catalog: Catalog) => (model: string) => catalog.byModel.has(model);

/** A batch about to be planned: its settings, its jobs and the inputs that became none. */
export interface BatchSpec extends NewBatch {
  jobs: Job[];
  rejections: Rejection[];
  /** Batch budget from a manifest, on top of the team's monthly cap. */
  budgetNanoUsd?: number;
  /** Records the batch came from; they fail together when planning fails. */
  messageIds: string[];
  /** The manifest's shadow run (null: none, whatever the settings say); absent: the settings'. */
  shadowRequest?: Shadow | null;
}

/**
 * How long a planning can still be running: a planner invocation ends within its timeout, so a
 * batch created longer ago and still not marked planned was left half-planned by a failure.
 */
export const PLANNING_STALE_AFTER_MS = FUNCTIONS.planner.timeoutSeconds * 1000;

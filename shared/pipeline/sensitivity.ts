/**
 * Every input's sensitivity: the stack configures a floor per team and per project (default
 * `public`), drops and OpenAI JSONL files get their project's floor, and a manifest may ask for
 * more but never for less. The strictest of the team's, the project's and the manifest's wins.
 */
import { SENSITIVITIES, type Sensitivity } from '../types';
import type { PipelineSettings } from './settings';

/** The stricter of the given sensitivities (`public` < `internal` < `restricted`). */
export function strictest(...levels: readonly Sensitivity[]): Sensitivity {
  return levels.reduce<Sensitivity>(
    (a, b) => (SENSITIVITIES.indexOf(b) > SENSITIVITIES.indexOf(a) ? b : a),
    'public',
  );
}

/** The least sensitivity an input of this team and project may have. */
export function sensitivityFloor(
  settings: Pick<PipelineSettings, 'sensitivity'>,
  team: string,
  project: string,
): Sensitivity {
  const { teams, projects } = settings.sensitivity;
  return strictest(teams[team] ?? 'public', projects[team]?.[project] ?? 'public');
}

/**
 * The sensitivity work is sent with: what the pipeline carried for it (`claimed`, read from a
 * manifest, a batch or plan item, a work message) raised to the floor the stack settings give
 * its team and project, never lowered. Planning, repairs, shadows, resumes, shards and the
 * worker (right before it picks an endpoint) all go through this one check, so no value a team
 * could have written can send its code to a less protected endpoint.
 */
export function effectiveSensitivity(
  settings: Pick<PipelineSettings, 'sensitivity'>,
  where: { team: string; projects: readonly string[] },
  ...claimed: readonly (Sensitivity | undefined)[]
): Sensitivity {
  return strictest(
    ...claimed.filter((c): c is Sensitivity => c !== undefined),
    ...where.projects.map((project) => sensitivityFloor(settings, where.team, project)),
  );
}

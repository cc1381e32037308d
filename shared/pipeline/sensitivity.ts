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

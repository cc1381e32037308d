/**
 * OpenAI Batch API files dropped for a team (`intake/<team>/<project>/openai-batch/<kind>/<name>.jsonl`)
 * become one batch each, at once: the file is the batch, so there is nothing to wait for.
 */
import { isKind, parseOpenAiBatchJsonl, type Rejection, validateName } from '../../inputs';
import { sha256Hex } from '../../prompts/keys';
import { PREFIXES } from '../../resources';
import { sensitivityFloor } from '../sensitivity';
import type { PipelineDeps } from '../types';
import type { DropItem } from './records';
import { type BatchSpec, knownModelTest } from './spec';

/** The `<kind>` segment under which OpenAI Batch API files are dropped. */
export const OPENAI_BATCH_SEGMENT = 'openai-batch';

/** Whether a dropped key is an OpenAI Batch API file. */
export function isOpenAiBatchKey(key: string): boolean {
  return key.slice(PREFIXES.intake.length).split('/')[2] === OPENAI_BATCH_SEGMENT;
}

/**
 * One batch per OpenAI Batch API file. The batch id hashes the key and its event, so a
 * redelivered event gives the same batch (created once) and the file dropped again a new one.
 */
export async function batchesFromOpenAiFiles(
  files: readonly DropItem[],
  deps: Pick<PipelineDeps, 'objects' | 'settings' | 'clock' | 'prices'>,
): Promise<BatchSpec[]> {
  const createdAt = deps.clock.now().toISOString();
  const isKnownModel = knownModelTest(await deps.prices.catalog());
  const specs: BatchSpec[] = [];
  for (const drop of files) {
    const [rawTeam = '', rawProject = '', , kind = ''] = drop.key
      .slice(PREFIXES.intake.length)
      .split('/');
    // Names are checked as a dropped file's are: a project such as `..` or `proj#1` would
    // otherwise reach output keys, roll-ups and reports. The file is then refused as a whole,
    // recorded for its team under a project named `invalid`.
    const teamName = validateName(drop.key, 'team', rawTeam);
    const projectName = validateName(drop.key, 'project', rawProject);
    const team = teamName.ok ? teamName.value : 'unknown';
    const project = projectName.ok ? projectName.value : 'invalid';
    const badName = !teamName.ok
      ? teamName.rejection
      : !projectName.ok
        ? projectName.rejection
        : undefined;
    const batchId = `drop-${sha256Hex([OPENAI_BATCH_SEGMENT, `${drop.key}@${drop.sequencer}`].join('\0')).slice(0, 32)}`;
    const spec: BatchSpec = {
      batchId,
      team: team.toLowerCase(),
      project: project.toLowerCase(),
      kind: isKind(kind) ? kind : 'docs',
      model: deps.settings.defaultModel,
      // A file gets its project's least sensitivity (docs/security.md).
      sensitivity: sensitivityFloor(deps.settings, team.toLowerCase(), project.toLowerCase()),
      createdAt,
      jobs: [],
      rejections: [],
      messageIds: [drop.messageId],
    };
    const tooLarge = isKind(kind) && !badName ? await jsonlTooLarge(drop.key, deps) : undefined;
    if (badName) {
      spec.rejections.push(badName);
    } else if (tooLarge) {
      spec.rejections.push(tooLarge);
    } else if (!isKind(kind)) {
      spec.rejections.push({
        source: drop.key,
        code: 'unknown_kind',
        reason: `OpenAI batch files go under intake/<team>/<project>/${OPENAI_BATCH_SEGMENT}/<kind>/<name>.jsonl with kind docs or tests, got ${JSON.stringify(kind)}`,
      });
    } else {
      const bytes = await deps.objects.get(drop.key);
      const parsed = parseOpenAiBatchJsonl(bytes ?? new Uint8Array(), {
        source: drop.key,
        batchId,
        team: spec.team,
        project: spec.project,
        kind,
        sensitivity: spec.sensitivity,
        isKnownModel,
      });
      spec.jobs.push(...parsed.jobs);
      spec.rejections.push(...parsed.rejections);
    }
    specs.push(spec);
  }
  return specs;
}

/**
 * Refuses an OpenAI batch file over `maxJsonlBytes` from its size alone (a HEAD), so that a
 * huge object is never read into the planner's memory just to be turned away.
 */
async function jsonlTooLarge(
  key: string,
  deps: Pick<PipelineDeps, 'objects' | 'settings'>,
): Promise<Rejection | undefined> {
  const size = await deps.objects.size(key);
  const max = deps.settings.maxJsonlBytes;
  if (size === undefined || size <= max) return undefined;
  return {
    source: key,
    code: 'too_large',
    reason: `OpenAI batch file is ${size} bytes, over the ${max}-byte limit (setting maxJsonlBytes): split it into smaller files`,
  };
}

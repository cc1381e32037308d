/**
 * The files an end-to-end run drops: seeded, so every run drops the same bytes. Projects of
 * `filesPerProject` source files each (the last one smaller), each with one shared context
 * file sized so that its group's prefix is about `contextTokens` tokens, as a team's style
 * guide would be. Languages rotate per project like the cache benchmark's synthetic workload.
 */
import { createHash } from 'node:crypto';
import type { Language } from '../../shared/prompts';
import { drawFileTokens, seededRandom, syntheticContext, syntheticFile } from '../cache/workload';

export interface E2eWorkloadOptions {
  files: number;
  filesPerProject: number;
  /** Tokens of each project's shared context file (0: none). */
  contextTokens: number;
  seed: number;
  team: string;
}

export interface DroppedFile {
  key: string;
  body: string;
}

export interface E2eProject {
  project: string;
  /** The project's context file, dropped before its sources. */
  context?: DroppedFile;
  sources: DroppedFile[];
}

const LANGUAGES: readonly { language: Language; ext: string }[] = [
  { language: 'typescript', ext: 'ts' },
  { language: 'python', ext: 'py' },
  { language: 'go', ext: 'go' },
  { language: 'java', ext: 'java' },
  { language: 'javascript', ext: 'js' },
];

/** The projects of a run, in the order they are dropped. */
export function e2eWorkload(options: E2eWorkloadOptions): E2eProject[] {
  const random = seededRandom(options.seed);
  const projects: E2eProject[] = [];
  const count = Math.ceil(options.files / options.filesPerProject);
  for (let p = 0; p < count; p++) {
    const project = `p${String(p).padStart(4, '0')}`;
    const { language, ext } = LANGUAGES[p % LANGUAGES.length] as (typeof LANGUAGES)[number];
    const base = `intake/${options.team}/${project}`;
    const context =
      options.contextTokens > 0
        ? {
            key: `${base}/context/STYLE.md`,
            body: syntheticContext(project, options.contextTokens, () => true, random),
          }
        : undefined;
    const n = Math.min(options.filesPerProject, options.files - p * options.filesPerProject);
    const sources: DroppedFile[] = [];
    for (let f = 0; f < n; f++) {
      const dir = `src/m${f % 7}`;
      const path = `${dir}/file${String(f).padStart(4, '0')}.${ext}`;
      sources.push({
        key: `${base}/docs/${path}`,
        body: syntheticFile(language, `${project}/${path}`, drawFileTokens(random), random),
      });
    }
    projects.push({ project, ...(context ? { context } : {}), sources });
  }
  return projects;
}

/** A fingerprint of a workload's bytes, so reports can say two runs dropped the same files. */
export function workloadDigest(projects: readonly E2eProject[]): string {
  const hash = createHash('sha256');
  for (const p of projects)
    for (const f of [...(p.context ? [p.context] : []), ...p.sources])
      hash.update(f.key).update('\0').update(f.body).update('\0');
  return hash.digest('hex').slice(0, 16);
}

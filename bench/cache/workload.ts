/**
 * Workloads for the cache benchmark: prefix groups of real four-message requests, built through
 * `buildMessages` so the layout (and so the cached prefix) is the pipeline's own. A synthetic
 * repository is generated from a seed; a corpus is read from a directory of source files.
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { createPrng } from '../../local/sim/prng';
import { renderPrompt, TokenInterner } from '../../local/sim/render';
import {
  buildMessages,
  type Language,
  languageOf,
  prefixKey,
  prefixMessages,
} from '../../shared/prompts';
import type { ChatMessage, Kind } from '../../shared/types';
import {
  ADJECTIVES,
  camel,
  drawFileTokens,
  EXTENSION,
  LANGUAGE_ROTATION,
  NOUNS,
  pick,
  syntheticContext,
  syntheticFile,
  VERBS,
} from './synthetic-text';

export interface BenchJob {
  jobId: string;
  path: string;
  messages: ChatMessage[];
  /** Radix order key, as the pipeline plans it: the path, then the head of the content. */
  sortKey: string;
  /** True prompt size, as the simulator counts and bills it. */
  promptTokens: number;
}

export interface BenchGroup {
  name: string;
  prefixKey: string;
  model: string;
  kind: Kind;
  language: Language;
  /** Messages 1-3, the cacheable prefix (and the prefix-probe warm-up request). */
  prefixMessages: ChatMessage[];
  /** True size of the rendered prefix, as the simulator counts it. */
  prefixTokens: number;
  jobs: BenchJob[];
}

export interface Workload {
  /** `synthetic` groups of one size, the shaped ones (`tiny-groups`, `mixed`), or a directory. */
  source: 'synthetic' | 'tiny-groups' | 'mixed' | 'corpus';
  model: string;
  groups: BenchGroup[];
}

/** Counts a request's prompt tokens exactly as the simulator renders and bills it. */
export type PromptCounter = (messages: readonly ChatMessage[]) => number;

/** The simulator's own count: its chat template over its tokenizer. */
export function simulatorPromptCounter(): PromptCounter {
  const interner = new TokenInterner();
  return (messages) => renderPrompt(messages, interner).length;
}

/** The simulator's seeded generator: the workload must be the same on every run with the same seed. */
export const seededRandom: (seed: number) => () => number = createPrng;

/** Fisher-Yates with a seeded source; returns a new array. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

export { drawFileTokens, syntheticContext, syntheticFile };

export interface SyntheticOptions {
  groups: number;
  filesPerGroup: number;
  /** Target size of each group's whole prefix (messages 1-3), in true tokens. */
  prefixTokens: number;
  seed: number;
  model: string;
  /** Defaults to the simulator's count. */
  count?: PromptCounter;
}

/** One group of a shaped workload: how many files, and how long their shared prefix is. */
export interface GroupShape {
  files: number;
  prefixTokens: number;
}

export interface ShapedOptions {
  shapes: readonly GroupShape[];
  source: Workload['source'];
  seed: number;
  model: string;
  count?: PromptCounter;
}

function makeJob(
  jobId: string,
  kind: Kind,
  language: Language,
  sharedContext: string,
  path: string,
  content: string,
  count: PromptCounter,
): BenchJob {
  const messages = buildMessages({ kind, language, sharedContext, path, content });
  return {
    jobId,
    path,
    messages,
    sortKey: `${path}\n${content.slice(0, 256)}`,
    promptTokens: count(messages),
  };
}

function makeGroup(
  name: string,
  model: string,
  kind: Kind,
  language: Language,
  jobs: BenchJob[],
  count: PromptCounter,
): BenchGroup {
  const first = jobs[0];
  if (!first) throw new RangeError(`group ${name} has no jobs`);
  const shared = prefixMessages(first.messages);
  return {
    name,
    prefixKey: prefixKey(model, first.messages),
    model,
    kind,
    language,
    prefixMessages: shared,
    prefixTokens: count(shared),
    jobs,
  };
}

/**
 * A seeded synthetic repository: `groups` projects, each of `filesPerGroup` files in one language
 * and one kind, with a shared context sized so the group's prefix is about `prefixTokens` tokens.
 * The same options always give the same workload.
 */
export function syntheticWorkload(options: SyntheticOptions): Workload {
  return shapedWorkload({
    shapes: Array.from({ length: options.groups }, () => ({
      files: options.filesPerGroup,
      prefixTokens: options.prefixTokens,
    })),
    source: 'synthetic',
    seed: options.seed,
    model: options.model,
    ...(options.count ? { count: options.count } : {}),
  });
}

/**
 * A seeded synthetic repository of groups shaped as given: each a project of `files` files in
 * one language and one kind, with a shared context sized so its prefix is about
 * `prefixTokens` tokens. The same options always give the same workload.
 */
export function shapedWorkload(options: ShapedOptions): Workload {
  const count = options.count ?? simulatorPromptCounter();
  const random = seededRandom(options.seed);
  const groups: BenchGroup[] = [];
  for (const [g, shape] of options.shapes.entries()) {
    const project = `${pick(ADJECTIVES, random)}-${pick(NOUNS, random)}-${g}`;
    const language = LANGUAGE_ROTATION[g % LANGUAGE_ROTATION.length] as Language;
    const kind: Kind = g % 2 === 0 ? 'docs' : 'tests';
    const templateTokens = count(
      prefixMessages(buildMessages({ kind, language, sharedContext: 'x', path: 'a', content: '' })),
    );
    const context = syntheticContext(
      project,
      Math.max(0, shape.prefixTokens - templateTokens),
      (text) =>
        count(
          prefixMessages(
            buildMessages({ kind, language, sharedContext: text, path: 'a', content: '' }),
          ),
        ) >= shape.prefixTokens,
      random,
    );
    const jobs: BenchJob[] = [];
    for (let f = 0; f < shape.files; f++) {
      const path = `${project}/${pick(NOUNS, random)}/${camel([pick(VERBS, random), pick(NOUNS, random)])}-${f}.${EXTENSION[language]}`;
      const content = syntheticFile(language, path, drawFileTokens(random), random);
      jobs.push(makeJob(`${project}:${f}`, kind, language, context, path, content, count));
    }
    groups.push(makeGroup(project, options.model, kind, language, jobs, count));
  }
  return { source: options.source, model: options.model, groups };
}

/** Log-normal draw (median, spread), rounded and clamped. */
function logNormal(random: () => number, median: number, sigma: number, min: number, max: number) {
  const u1 = Math.max(random(), 1e-12);
  const u2 = random();
  const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return Math.round(Math.min(max, Math.max(min, median * Math.exp(sigma * normal))));
}

/**
 * Many tiny groups: `groups` groups of 1 to 3 files each (uniform), each with its own context
 * (prefixes of 1,000 to 4,000 tokens): a repository of many small folders, each with a README.
 */
export function tinyGroupShapes(seed: number, groups = 200): GroupShape[] {
  const random = seededRandom(seed + 101);
  return Array.from({ length: groups }, () => ({
    files: 1 + Math.floor(random() * 3),
    prefixTokens: 1_000 + Math.floor(random() * 3_000),
  }));
}

/**
 * Group sizes drawn like a real repository's folders: log-normal, median 4 files, a long tail
 * up to 150; prefixes log-normal around 2,000 tokens (500 to 8,000).
 */
export function mixedShapes(seed: number, groups = 80): GroupShape[] {
  const random = seededRandom(seed + 202);
  return Array.from({ length: groups }, () => ({
    files: logNormal(random, 4, 1.2, 1, 150),
    prefixTokens: logNormal(random, 2_000, 0.6, 500, 8_000),
  }));
}

export type CorpusGrouping = 'folder' | 'kind';

export interface CorpusOptions {
  dir: string;
  model: string;
  groupBy: CorpusGrouping;
  /** Kind of every job when grouping by folder. */
  kind: Kind;
  /** Files larger than this many bytes are skipped (generated or vendored, most likely). */
  maxFileBytes?: number;
  count?: PromptCounter;
}

const SKIP_DIRS = new Set([
  'node_modules',
  '.git',
  'dist',
  'build',
  'cdk.out',
  'coverage',
  '.venv',
]);

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string): Promise<void> => {
    const entries = await readdir(at, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.name.startsWith('.') && entry.isDirectory()) continue;
      const full = join(at, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) await walk(full);
      } else if (entry.isFile()) out.push(full);
    }
  };
  await walk(dir);
  return out;
}

/** Markdown files at the corpus root and in a folder, joined: the group's shared context. */
function contextOf(docs: ReadonlyMap<string, string>, folder: string | undefined): string {
  // Naming the folder keeps folders apart: grouping is by prefix key, so equal contexts would merge.
  const parts: string[] = folder === undefined ? [] : [`Module folder: ${folder || '.'}`];
  for (const [path, text] of docs) {
    const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    if (parent === '' || (folder && parent === folder))
      parts.push(`Context file: ${path}\n\n${text}`);
  }
  return parts.join('\n\n');
}

/**
 * A workload from a real directory: every source file whose language has a template becomes a
 * job; markdown at the root (and in the file's top-level folder) is the shared context. Grouped
 * by top-level folder (one kind for all), or by kind (every file gets a docs and a tests job).
 * Groups are then split by prefix key, as the planner does, since the template is per language.
 */
export async function corpusWorkload(options: CorpusOptions): Promise<Workload> {
  const count = options.count ?? simulatorPromptCounter();
  const maxBytes = options.maxFileBytes ?? 64 * 1024;
  const sources: Array<{ path: string; content: string; folder: string; language: Language }> = [];
  const docs = new Map<string, string>();
  for (const full of await listFiles(options.dir)) {
    const path = relative(options.dir, full).split(sep).join('/');
    if ((await stat(full)).size > maxBytes) continue;
    const content = await readFile(full, 'utf8');
    if (content.includes('\u0000')) continue;
    const folder = path.includes('/') ? (path.split('/')[0] as string) : '';
    if (/\.md$/i.test(path)) {
      if (!path.includes('/') || path.split('/').length === 2) docs.set(path, content);
      continue;
    }
    const language = languageOf(path);
    if (language === 'generic') continue;
    sources.push({ path, content, folder, language });
  }
  const byKey = new Map<
    string,
    { kind: Kind; language: Language; name: string; jobs: BenchJob[] }
  >();
  for (const file of sources) {
    const kinds: Kind[] = options.groupBy === 'kind' ? ['docs', 'tests'] : [options.kind];
    const sharedContext = contextOf(docs, options.groupBy === 'folder' ? file.folder : undefined);
    for (const kind of kinds) {
      const job = makeJob(
        `${kind}:${file.path}`,
        kind,
        file.language,
        sharedContext,
        file.path,
        file.content,
        count,
      );
      const key = prefixKey(options.model, job.messages);
      const name =
        options.groupBy === 'kind'
          ? `${kind}/${file.language}`
          : `${file.folder || '.'}/${file.language}`;
      const entry = byKey.get(key) ?? { kind, language: file.language, name, jobs: [] };
      entry.jobs.push(job);
      byKey.set(key, entry);
    }
  }
  const groups = [...byKey.values()].map((e) =>
    makeGroup(e.name, options.model, e.kind, e.language, e.jobs, count),
  );
  if (groups.length === 0)
    throw new RangeError(`no source files with a known language under ${options.dir}`);
  return { source: 'corpus', model: options.model, groups };
}

/** Number of jobs of a workload. */
export function jobCount(workload: Workload): number {
  return workload.groups.reduce((n, g) => n + g.jobs.length, 0);
}

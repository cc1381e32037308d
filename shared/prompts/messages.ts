/**
 * The four-message layout (DESIGN.md): system template, shared context, fixed acknowledgement,
 * then the file. Everything that varies per file is in message 4 so messages 1-3 are a
 * byte-identical prefix for every job of a group.
 */
import type { ChatMessage, Kind } from '../types';
import { type Language, outputPathFor } from './language';
import {
  ACKNOWLEDGEMENT,
  NO_SHARED_CONTEXT,
  SHARED_CONTEXT_HEADER,
  systemTemplate,
} from './templates';

export interface PromptInput {
  kind: Kind;
  language: Language;
  /** The group's shared context, already in a stable order (see `sharedContextFrom`). */
  sharedContext: string;
  path: string;
  content: string;
}

/** Builds the four chat messages of a job. */
export function buildMessages(input: PromptInput): ChatMessage[] {
  return [
    { role: 'system', content: systemTemplate(input.kind, input.language) },
    { role: 'user', content: sharedContextMessage(input.sharedContext) },
    { role: 'assistant', content: ACKNOWLEDGEMENT },
    { role: 'user', content: fileMessage(input) },
  ];
}

/** Message 2: the fixed header and the context, or a fixed text when there is none. */
function sharedContextMessage(sharedContext: string): string {
  return sharedContext.trim() === ''
    ? NO_SHARED_CONTEXT
    : `${SHARED_CONTEXT_HEADER}\n\n${sharedContext}`;
}

const FENCE_TAG: Record<Language, string> = {
  typescript: 'ts',
  javascript: 'js',
  python: 'python',
  go: 'go',
  java: 'java',
  generic: '',
};

function fileMessage({ kind, language, path, content }: PromptInput): string {
  const fence = fenceFor(content);
  const task =
    kind === 'docs'
      ? `Write the reference documentation for \`${path}\` as instructed.`
      : `Write the test file for \`${path}\` as instructed. It will be saved as \`${outputPathFor('tests', path)}\`, so import the module under test relative to that location.`;
  return `File: ${path}\n\n${fence}${FENCE_TAG[language]}\n${content}${content.endsWith('\n') ? '' : '\n'}${fence}\n\n${task}`;
}

/** A backtick fence longer than any backtick run in the content, so the content cannot close it. */
function fenceFor(content: string): string {
  let longest = 0;
  for (const run of content.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return '`'.repeat(Math.max(3, longest + 1));
}

export interface ContextFile {
  path: string;
  content: string;
}

/**
 * Joins shared context files into message 2's text in code-point order of their paths, whatever
 * order they were listed or fetched in, so every job of a group gets the same bytes.
 */
export function sharedContextFrom(files: readonly ContextFile[]): string {
  return [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => {
      const fence = fenceFor(f.content);
      const body = f.content.endsWith('\n') ? f.content : `${f.content}\n`;
      return `Context file: ${f.path}\n\n${fence}\n${body}${fence}`;
    })
    .join('\n\n');
}

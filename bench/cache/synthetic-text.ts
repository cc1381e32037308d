/**
 * Synthetic source text for the cache benchmark's workloads: plausible functions in each
 * language and a project's style guide, drawn from a seeded generator so a seed always gives the
 * same files.
 */
import type { Language } from '../../shared/prompts';
import { estimateTokens } from '../../shared/tokens';

export function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)] as T;
}

export const NOUNS = [
  'account',
  'invoice',
  'order',
  'payment',
  'session',
  'customer',
  'ledger',
  'report',
  'shipment',
  'catalog',
  'price',
  'token',
  'event',
  'queue',
  'batch',
  'record',
  'profile',
  'cart',
  'refund',
  'budget',
  'tenant',
  'webhook',
  'schedule',
  'quota',
];
export const VERBS = [
  'load',
  'save',
  'build',
  'parse',
  'validate',
  'compute',
  'merge',
  'apply',
  'render',
  'resolve',
  'normalize',
  'reconcile',
  'format',
  'publish',
  'fetch',
  'settle',
  'split',
  'expire',
];
export const ADJECTIVES = [
  'pending',
  'active',
  'stale',
  'signed',
  'partial',
  'daily',
  'remote',
  'cached',
];
const RULES = [
  'Prefer small pure functions that take their dependencies as arguments.',
  'Money is always an integer number of the smallest unit; never use floating point for amounts.',
  'Errors that callers handle differently get their own named class with the cause attached.',
  'Log identifiers, counts and decisions, never personal data or secrets.',
  'Public functions validate their input at the boundary and trust it afterwards.',
  'Timestamps are UTC, stored as ISO 8601 strings, and compared as instants.',
  'Every external call has a deadline; retries use exponential backoff with jitter.',
  'A module exports only what other modules use; helpers stay private.',
  'Names say what a value is, not how it is computed.',
  'Collections returned to callers are never mutated afterwards.',
];

export const LANGUAGE_ROTATION: readonly Language[] = [
  'typescript',
  'python',
  'go',
  'java',
  'javascript',
];
export const EXTENSION: Record<Language, string> = {
  typescript: 'ts',
  javascript: 'js',
  python: 'py',
  go: 'go',
  java: 'java',
  generic: 'txt',
};

export const camel = (words: string[]) =>
  words.map((w, i) => (i === 0 ? w : w[0]?.toUpperCase() + w.slice(1))).join('');
const pascal = (words: string[]) => words.map((w) => w[0]?.toUpperCase() + w.slice(1)).join('');

/** One plausible public function in `language`, with a doc comment and a short body. */
function functionSource(language: Language, random: () => number): string {
  const verb = pick(VERBS, random);
  const noun = pick(NOUNS, random);
  const adj = pick(ADJECTIVES, random);
  const arg = pick(NOUNS, random);
  const limit = 1 + Math.floor(random() * 500);
  const doc = `${verb[0]?.toUpperCase()}${verb.slice(1)}s the ${adj} ${noun} of a ${arg}, up to ${limit} at a time.`;
  switch (language) {
    case 'python':
      return `def ${verb}_${adj}_${noun}(${arg}, limit=${limit}):\n    """${doc}"""\n    items = [x for x in ${arg}.${noun}s if x.state == "${adj}"]\n    if len(items) > limit:\n        raise ValueError("too many ${noun}s: %d" % len(items))\n    return sorted(items, key=lambda x: x.id)\n`;
    case 'go': {
      const name = pascal([verb, adj, noun]);
      return `// ${name} ${doc.toLowerCase()}\nfunc ${name}(${arg} *${pascal([arg])}, limit int) ([]${pascal([noun])}, error) {\n\tout := make([]${pascal([noun])}, 0, limit)\n\tfor _, x := range ${arg}.${pascal([noun])}s {\n\t\tif x.State == "${adj}" {\n\t\t\tout = append(out, x)\n\t\t}\n\t}\n\tif len(out) > limit {\n\t\treturn nil, fmt.Errorf("too many ${noun}s: %d", len(out))\n\t}\n\treturn out, nil\n}\n`;
    }
    case 'java': {
      const name = camel([verb, adj, noun]);
      return `    /** ${doc} */\n    public static List<${pascal([noun])}> ${name}(${pascal([arg])} ${arg}, int limit) {\n        List<${pascal([noun])}> out = new ArrayList<>();\n        for (${pascal([noun])} x : ${arg}.get${pascal([noun])}s()) {\n            if ("${adj}".equals(x.state())) out.add(x);\n        }\n        if (out.size() > limit) throw new IllegalStateException("too many ${noun}s: " + out.size());\n        return out;\n    }\n`;
    }
    default: {
      const name = camel([verb, adj, noun]);
      const types = language === 'typescript';
      return `/** ${doc} */\nexport function ${name}(${arg}${types ? `: ${pascal([arg])}` : ''}, limit${types ? ': number' : ''} = ${limit})${types ? `: ${pascal([noun])}[]` : ''} {\n  const items = ${arg}.${noun}s.filter((x) => x.state === '${adj}');\n  if (items.length > limit) throw new RangeError(\`too many ${noun}s: \${items.length}\`);\n  return [...items].sort((a, b) => a.id.localeCompare(b.id));\n}\n`;
    }
  }
}

/** A source file of about `tokens` tokens (never fewer than one function). */
export function syntheticFile(
  language: Language,
  path: string,
  tokens: number,
  random: () => number,
): string {
  const head =
    language === 'java'
      ? `package com.example.${path.split('/')[1] ?? 'app'};\n\nimport java.util.*;\n\npublic final class ${pascal([pick(NOUNS, random), 'service'])} {\n`
      : language === 'go'
        ? `package ${path.split('/')[1] ?? 'app'}\n\nimport "fmt"\n\n`
        : '';
  const tail = language === 'java' ? '}\n' : '';
  const parts = [head];
  let size = estimateTokens(head);
  do {
    const fn = functionSource(language, random);
    parts.push(fn, '\n');
    size += estimateTokens(fn) + 1;
  } while (size < tokens);
  parts.push(tail);
  return parts.join('');
}

/**
 * A project's shared context (style guide and shared types), grown until `bigEnough` says so.
 * Paragraph estimates drive the growth and one exact check per round tops it up, since pieces
 * can merge across paragraph boundaries.
 */
export function syntheticContext(
  project: string,
  tokens: number,
  bigEnough: (context: string) => boolean,
  random: () => number,
): string {
  const parts = [`# ${project} style guide\n`];
  let size = estimateTokens(parts[0] as string);
  let n = 0;
  while (size < tokens || !bigEnough(parts.join('\n'))) {
    const para =
      n % 4 === 3
        ? `## Shared type ${pascal([pick(NOUNS, random), pick(NOUNS, random)])}\n\nFields: ${Array.from({ length: 6 }, () => `${camel([pick(ADJECTIVES, random), pick(NOUNS, random)])} (${pick(['string', 'integer', 'timestamp', 'boolean'], random)})`).join(', ')}.\n`
        : `${n + 1}. In the ${pick(NOUNS, random)} module of ${project}: ${pick(RULES, random)} ${pick(RULES, random)}\n`;
    parts.push(para);
    size += estimateTokens(para) + 1;
    n++;
  }
  return parts.join('\n');
}

/** Log-normal file sizes (median `median`, spread `sigma`), clamped to a plausible range. */
export function drawFileTokens(random: () => number, median = 500, sigma = 0.6): number {
  const u1 = Math.max(random(), 1e-12);
  const u2 = random();
  const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return Math.round(Math.min(4000, Math.max(80, median * Math.exp(sigma * normal))));
}

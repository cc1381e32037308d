/**
 * A cheap, model-free check of a generated doc against its source: which of the source's
 * exported names the doc mentions, and which names in its code spans the source does not have
 * (likely invented). The exported names of TS/JS come from the TypeScript compiler API (the
 * CLI's cli/lib/quality/docs-check.ts); for other languages `bestEffortExports` applies a
 * clearly marked rule per language (public by name or keyword), which can miss or over-count.
 */

/** What the check says of one doc. */
export interface DocCheck {
  exports: number;
  mentioned: number;
  /** Exported names the doc never mentions. */
  missing: string[];
  /** Names in inline code spans that appear nowhere in the source. */
  inventedNames: string[];
  invented: number;
}

/** Words a code span may hold that no source needs to contain: keywords and common types. */
const ORDINARY = new Set(
  (
    'true false null undefined void any unknown never string number boolean bigint symbol object ' +
    'async await return new const let var function class import export from default throw throws ' +
    'Promise Error TypeError RangeError Array Object Map Set Date JSON Math Number String Boolean ' +
    'None True False self def int str float bool list dict tuple nil err error func byte rune ' +
    'public private static final int long double char void this super'
  ).split(' '),
);

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const hasWord = (text: string, word: string) =>
  new RegExp(`(^|[^\\w$])${escapeRegExp(word)}($|[^\\w$])`).test(text);

/** Inline code spans of Markdown, fenced blocks left out. */
function codeSpans(markdown: string): string[] {
  const prose = markdown.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  return [...prose.matchAll(/(`+)([^`]+?)\1/g)].map((m) => m[2] as string);
}

/** Checks a doc against its source's exported names and text. */
export function checkDoc(input: {
  exports: readonly string[];
  source: string;
  doc: string;
}): DocCheck {
  const names = [...new Set(input.exports)];
  const missing = names.filter((n) => !hasWord(input.doc, n));
  const invented = new Set<string>();
  for (const span of codeSpans(input.doc)) {
    // A file path or a URL is not a name of the code.
    if (/[/\\]|^\S+\.[a-z]{1,4}$|:\/\//i.test(span.trim())) continue;
    for (const [word] of span.matchAll(/[A-Za-z_$][\w$]*/g))
      if (word.length > 1 && !ORDINARY.has(word) && !hasWord(input.source, word))
        invented.add(word);
  }
  return {
    exports: names.length,
    mentioned: names.length - missing.length,
    missing,
    inventedNames: [...invented].sort(),
    invented: invented.size,
  };
}

const RULES: Record<string, RegExp[]> = {
  py: [
    /^(?:async\s+)?def\s+([A-Za-z]\w*)/gm,
    /^class\s+([A-Za-z]\w*)/gm,
    /^([A-Z][A-Z0-9_]*)\s*=/gm,
  ],
  go: [
    /^func\s+(?:\([^)]*\)\s*)?([A-Z]\w*)/gm,
    /^type\s+([A-Z]\w*)/gm,
    /^(?:const|var)\s+([A-Z]\w*)/gm,
  ],
  java: [
    /^[ \t]*public\s+(?:abstract\s+|final\s+|static\s+|sealed\s+)*(?:class|interface|enum|record)\s+(\w+)/gm,
    /^[ \t]*public\s+(?:static\s+|final\s+|synchronized\s+|abstract\s+)*[\w<>[\],\s?]+?\s+(\w+)\s*\(/gm,
  ],
};

/**
 * BEST EFFORT, for languages other than TS/JS: public names by each language's convention
 * (Python: top-level `def`/`class` without a leading underscore and UPPER_CASE constants; Go:
 * capitalised top-level names; Java: `public` types and methods). Undefined for a language it
 * has no rule for.
 */
export function bestEffortExports(path: string, source: string): string[] | undefined {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  const rules = RULES[ext];
  if (!rules) return undefined;
  const names = new Set<string>();
  for (const rule of rules) for (const m of source.matchAll(rule)) names.add(m[1] as string);
  return [...names].filter((n) => !n.startsWith('_'));
}

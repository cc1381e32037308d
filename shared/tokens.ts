/**
 * A deterministic, dependency-free tokenizer used to estimate token counts (planner, budgets,
 * estimator) and by the DeepSeek simulator. It splits text the way byte-level BPE tokenizers
 * pre-tokenize (words with their leading space, digit runs, punctuation runs, whitespace runs)
 * and then splits long pieces, approximating how a BPE vocabulary breaks rare words.
 * Invariant: the pieces concatenate back to the input exactly.
 */

const PRETOKEN = / ?[A-Za-z]+| ?\d{1,3}| ?[^\sA-Za-z\d]+|\s+\n?|\s+/gu;

/** Characters per token for pieces a vocabulary is unlikely to hold whole. */
const LONG_PIECE_CHARS = 6;

/** Splits text into token pieces; `tokenize(t).join('') === t`. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(PRETOKEN)) {
    const piece = match[0];
    if (piece.length <= LONG_PIECE_CHARS + 1) {
      out.push(piece);
      continue;
    }
    for (let i = 0; i < piece.length; i += LONG_PIECE_CHARS)
      out.push(piece.slice(i, i + LONG_PIECE_CHARS));
  }
  return out;
}

/** Estimated number of tokens in a text. */
export function estimateTokens(text: string): number {
  return tokenize(text).length;
}

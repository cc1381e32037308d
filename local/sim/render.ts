import { tokenize } from '../../shared/tokens';

export interface SimMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

// DeepSeek V3 chat-template markers, one token each.
/** `<｜begin▁of▁sentence｜>` */
const BOS = 0;
/** `<｜User｜>` */
const USER = 1;
/** `<｜Assistant｜>` */
const ASSISTANT = 2;
/** `<｜end▁of▁sentence｜>` */
const EOS = 3;
const FIRST_TEXT_ID = 4;

/** Bound on remembered message tokenizations; shared prefixes repeat, file contents rarely do. */
const TOKENIZED_CACHE_LIMIT = 1024;

/**
 * Turns text into interned token ids. Ids make cache lookups integer comparisons, and the
 * per-text memo keeps a shared system prompt from being tokenized once per request.
 */
export class TokenInterner {
  // Text pieces get ids after the markers', so text that spells a marker stays ordinary text.
  private readonly ids = new Map<string, number>();
  private readonly memo = new Map<string, Int32Array>();

  /** Token ids of a plain text. */
  encode(text: string): Int32Array {
    const known = this.memo.get(text);
    if (known) return known;
    const pieces = tokenize(text);
    const out = new Int32Array(pieces.length);
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] as string;
      let id = this.ids.get(piece);
      if (id === undefined) {
        id = FIRST_TEXT_ID + this.ids.size;
        this.ids.set(piece, id);
      }
      out[i] = id;
    }
    if (this.memo.size >= TOKENIZED_CACHE_LIMIT) this.memo.clear();
    this.memo.set(text, out);
    return out;
  }
}

/**
 * Renders messages as DeepSeek's chat template does and returns the token ids:
 * `BOS {system} <User>{user} <Assistant>{assistant}<EOS> ... <User>{user}<Assistant>`.
 * The generation prompt is appended only after a final user message, so a request made of a
 * group's first three messages renders to an exact prefix of every job of the group.
 */
export function renderPrompt(messages: readonly SimMessage[], interner: TokenInterner): Int32Array {
  const parts: Array<Int32Array | number> = [BOS];
  for (const message of messages) {
    if (message.role === 'user') parts.push(USER);
    else if (message.role === 'assistant') parts.push(ASSISTANT);
    parts.push(interner.encode(message.content));
    if (message.role === 'assistant') parts.push(EOS);
  }
  if (messages.at(-1)?.role === 'user') parts.push(ASSISTANT);
  return concat(parts);
}

/** The tokens the service persists at the end of an answer: prompt, output, end of sentence. */
export function renderWithOutput(prompt: Int32Array, output: Int32Array): Int32Array {
  return concat([prompt, output, EOS]);
}

function concat(parts: ReadonlyArray<Int32Array | number>): Int32Array {
  let length = 0;
  for (const p of parts) length += typeof p === 'number' ? 1 : p.length;
  const out = new Int32Array(length);
  let at = 0;
  for (const p of parts) {
    if (typeof p === 'number') out[at++] = p;
    else {
      out.set(p, at);
      at += p.length;
    }
  }
  return out;
}

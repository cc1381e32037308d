/**
 * DeepSeek's context cache, in two models (the live rule is uncertain, so both are simulated):
 *
 * - `units64` (older documented rule): every processed prompt is stored; a request hits on its
 *   longest common prefix with any stored prompt, floored to whole 64-token units.
 * - `persisted-units` (newer documented rule): only "cache prefix units" are stored, at the end of
 *   the input, at the end of the output, at a common prefix detected between a request and an
 *   earlier one, and optionally every K tokens; a request hits on the longest stored unit that is
 *   a whole prefix of it.
 *
 * Both keep one radix trie of token ids per key (the server keys by serving model and `user_id`:
 * real caches are per model), so a lookup walks the prompt once and storage grows with distinct
 * suffixes rather than with requests.
 */

export type CacheModel = 'units64' | 'persisted-units';

/** DeepSeek stores nothing shorter than one 64-token unit. */
export const UNIT_TOKENS = 64;

/** When a stored prefix can serve hits: from `readyAt` (built), until `expiresAt` (TTL). */
export interface Span {
  readyAt: number;
  expiresAt: number;
}

interface Node {
  edge: Int32Array;
  children: Map<number, Node>;
  /** Stored prompts that pass through this node (the whole edge above it). */
  seen?: Span;
  /** A persisted unit that ends exactly at this node. */
  unit?: Span;
}

export interface CacheOptions {
  model: CacheModel;
  /** persisted-units: also persist a unit every this many tokens. */
  unitInterval?: number;
  /** A hit keeps a unit alive this much longer, as a used entry stays cached. */
  ttlMs: number;
  /**
   * Tokens the cache holds across keys; past it the least recently used entries (the ones
   * that would expire first) are evicted, as a provider's cache under memory pressure is.
   * Unbounded when absent.
   */
  capacityTokens?: number;
}

/** Inserts between sweeps of expired entries, so a long-running simulator stays bounded. */
const SWEEP_EVERY = 512;

function usable(span: Span | undefined, now: number): boolean {
  return span !== undefined && span.readyAt <= now && now < span.expiresAt;
}

function alive(span: Span | undefined, now: number): boolean {
  return span !== undefined && now < span.expiresAt;
}

// Exact while the TTL is longer than the construction delay: a live entry keeps its earlier
// readiness and takes the later expiry; an expired one is replaced.
function merge(old: Span | undefined, add: Span, now: number): Span {
  if (!alive(old, now) || old === undefined) return { ...add };
  return {
    readyAt: Math.min(old.readyAt, add.readyAt),
    expiresAt: Math.max(old.expiresAt, add.expiresAt),
  };
}

function newNode(edge: Int32Array): Node {
  return { edge, children: new Map() };
}

/** A context cache per key (model and user) following one of DeepSeek's documented rules. */
export class PromptCache {
  private readonly roots = new Map<string, Node>();
  private inserts = 0;
  /** Tokens on the trie's edges: what the cache holds. Exact after each sweep or eviction. */
  private storedTokens = 0;
  /** Entries evicted for capacity so far. */
  evictions = 0;

  constructor(private readonly options: CacheOptions) {}

  /** Prompt tokens a request would be billed as cache hits at `now`. */
  lookup(user: string, prompt: Int32Array, now: number): number {
    const root = this.roots.get(user);
    if (!root) return 0;
    if (this.options.model === 'units64') {
      const lcp = this.commonPrefix(root, prompt, (n) => usable(n.seen, now));
      return Math.floor(lcp / UNIT_TOKENS) * UNIT_TOKENS;
    }
    return this.longestUnit(root, prompt, now);
  }

  /**
   * Records a processed request. `span` says when what it built becomes usable and expires;
   * `output` is the prompt followed by the answer as the next turn would render it.
   */
  record(user: string, prompt: Int32Array, output: Int32Array, span: Span, now: number): void {
    let root = this.roots.get(user);
    if (!root) {
      root = newNode(new Int32Array(0));
      this.roots.set(user, root);
    }
    if (this.options.model === 'units64') {
      this.descend(root, prompt, prompt.length, (n) => {
        n.seen = merge(n.seen, span, now);
      });
    } else {
      const depths = new Set<number>([prompt.length, output.length]);
      // The service persists a prefix it saw shared with an earlier request, built or not.
      depths.add(this.commonPrefix(root, prompt, (n) => alive(n.seen, now)));
      const k = this.options.unitInterval;
      if (k !== undefined && k > 0) for (let d = k; d <= output.length; d += k) depths.add(d);
      this.descend(root, prompt, prompt.length, (n) => {
        n.seen = merge(n.seen, span, now);
      });
      for (const depth of depths) {
        if (depth < UNIT_TOKENS) continue;
        const tokens = depth <= prompt.length ? prompt : output;
        const node = this.descend(root, tokens, depth);
        node.unit = merge(node.unit, span, now);
      }
    }
    if (++this.inserts % SWEEP_EVERY === 0) this.sweep(now);
    const capacity = this.options.capacityTokens;
    if (capacity !== undefined && this.storedTokens > capacity) this.evict(capacity, now);
  }

  /** Tokens the cache holds now. */
  size(): number {
    return this.storedTokens;
  }

  /**
   * Evicts least recently used entries until the cache holds at most 80% of `capacity`: an
   * entry's expiry is its last use plus the TTL, so the earliest expiries are the least recently
   * used. Every entry expiring no later than the cut-off is dropped, as if it had expired.
   */
  private evict(capacity: number, now: number): void {
    const spans: Array<{ at: number; tokens: number }> = [];
    const walk = (node: Node) => {
      const at = Math.max(node.unit?.expiresAt ?? -Infinity, node.seen?.expiresAt ?? -Infinity);
      if (Number.isFinite(at)) spans.push({ at, tokens: node.edge.length });
      for (const child of node.children.values()) walk(child);
    };
    for (const root of this.roots.values()) walk(root);
    spans.sort((a, b) => a.at - b.at);
    let excess = this.storedTokens - Math.floor(capacity * 0.8);
    let cutoff = -Infinity;
    for (const span of spans) {
      if (excess <= 0) break;
      cutoff = span.at;
      excess -= span.tokens;
    }
    const before = this.storedTokens;
    this.prune((span) => span.expiresAt > cutoff && alive(span, now));
    if (this.storedTokens < before) this.evictions++;
  }

  // Length of the longest prefix of `tokens` along nodes that satisfy `keep`.
  private commonPrefix(root: Node, tokens: Int32Array, keep: (n: Node) => boolean): number {
    let node = root;
    let pos = 0;
    while (pos < tokens.length) {
      const child = node.children.get(tokens[pos] as number);
      if (!child || !keep(child)) break;
      const edge = child.edge;
      let m = 0;
      while (m < edge.length && pos + m < tokens.length && edge[m] === tokens[pos + m]) m++;
      pos += m;
      if (m < edge.length) break;
      node = child;
    }
    return pos;
  }

  private longestUnit(root: Node, tokens: Int32Array, now: number): number {
    let node = root;
    let pos = 0;
    let best = 0;
    while (pos < tokens.length) {
      const child = node.children.get(tokens[pos] as number);
      if (!child) break;
      const edge = child.edge;
      if (pos + edge.length > tokens.length) break;
      for (let m = 0; m < edge.length; m++) if (edge[m] !== tokens[pos + m]) return best;
      pos += edge.length;
      node = child;
      const unit = node.unit;
      if (unit && usable(unit, now)) {
        best = pos;
        unit.expiresAt = Math.max(unit.expiresAt, now + this.options.ttlMs);
      }
    }
    return best;
  }

  // Walks to the node ending exactly at `depth` along `tokens`, splitting edges and adding
  // nodes as needed; `visit` sees every node on the way, the last one included.
  private descend(root: Node, tokens: Int32Array, depth: number, visit?: (n: Node) => void): Node {
    let node = root;
    let pos = 0;
    while (pos < depth) {
      const first = tokens[pos] as number;
      const child = node.children.get(first);
      if (!child) {
        const leaf = newNode(tokens.slice(pos, depth));
        node.children.set(first, leaf);
        this.storedTokens += leaf.edge.length;
        visit?.(leaf);
        return leaf;
      }
      const edge = child.edge;
      const limit = Math.min(edge.length, depth - pos);
      let m = 1;
      while (m < limit && edge[m] === tokens[pos + m]) m++;
      if (m === edge.length) {
        node = child;
        pos += m;
        visit?.(node);
        continue;
      }
      const mid: Node = {
        edge: edge.slice(0, m),
        children: new Map([[edge[m] as number, child]]),
        seen: child.seen && { ...child.seen },
      };
      child.edge = edge.slice(m);
      node.children.set(first, mid);
      node = mid;
      pos += m;
      visit?.(node);
    }
    return node;
  }

  private sweep(now: number): void {
    this.prune((span) => alive(span, now));
  }

  /** Drops every span `keep` refuses, then every node left with nothing; recounts the tokens. */
  private prune(keep: (span: Span) => boolean): void {
    let tokens = 0;
    const visit = (node: Node): boolean => {
      if (node.unit && !keep(node.unit)) node.unit = undefined;
      if (node.seen && !keep(node.seen)) node.seen = undefined;
      for (const [key, child] of node.children) if (visit(child)) node.children.delete(key);
      const empty = node.children.size === 0 && !node.unit && !node.seen;
      if (!empty) tokens += node.edge.length;
      return empty;
    };
    for (const [user, root] of this.roots) if (visit(root)) this.roots.delete(user);
    this.storedTokens = tokens;
  }
}

/**
 * Roots shared across prefix groups, warmed once (issue 23).
 *
 * Groups differ in their shared context but often agree on a long head: the kind's system
 * message and the context's header are the same for every group of one kind and language. Sent
 * side by side, every group's warm-up pays that head at the miss price; a true lower bound pays
 * it once. So the groups' prefixes are put in a prefix tree (per model: caches are per model),
 * and where a node of the tree is shared by enough groups and is long enough to be cached, its
 * groups are split into two builders and the followers: the builders' first requests go first,
 * and the followers send theirs once those have been answered and the provider has had its
 * settle time to build the cache, so their first requests hit on the root.
 *
 * Two builders, not one, and from two different branches under the root: under DeepSeek's newer
 * documented rule the service persists a prefix it detects as common to two requests (A+B, then
 * A+C persists A), and the common prefix of two requests from different branches is exactly the
 * root, a whole prefix of every follower. Under the older rule (64-token units of any earlier
 * prompt) one builder would do; two cost nothing extra, as every group sends its first request
 * anyway. A root with fewer than three groups saves nothing under the newer rule and is not used.
 *
 * Only the followers' start moves: what each group sends is unchanged, and no request is added.
 */

import { estimateTokens } from '../tokens';
import type { ChatMessage } from '../types';
import { CACHE_UNIT_TOKENS } from './warmup';

/** What the tree needs of a group. */
export interface RootGroup {
  prefixKey: string;
  model: string;
  prefixMessages: readonly ChatMessage[];
}

export interface SharedRoot {
  model: string;
  /** Estimated tokens of the shared head. */
  rootTokens: number;
  /** Groups whose first requests build the root (two, from different branches). */
  builders: string[];
  /** Groups that wait for the root to be built before their first request. */
  followers: string[];
}

export interface SharedRootOptions {
  /** Groups a root must be shared by: two builders and at least one follower. */
  minGroups: number;
  /** A shorter head is not worth holding followers back for (one cache unit is the least). */
  minRootTokens: number;
}

export const DEFAULT_SHARED_ROOT_OPTIONS: SharedRootOptions = {
  minGroups: 3,
  minRootTokens: CACHE_UNIT_TOKENS,
};

// Roles and contents joined so that a common prefix of two texts is a common prefix of the
// rendered requests: the separators cannot occur in a role and end each part unambiguously.
function serialize(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `${m.role}\u0000${m.content}\u0001`).join('');
}

function commonLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

interface Entry {
  prefixKey: string;
  text: string;
}

interface TreeNode {
  /** Characters shared by every entry in [lo, hi]. */
  depth: number;
  lo: number;
  hi: number;
  /** Ranges of the branches below the node, in order. */
  branches: Array<[number, number]>;
}

/**
 * The inner nodes of the prefix tree of sorted texts, from their adjacent common lengths:
 * `lcp[i]` is the common length of entries i - 1 and i. Groups are few (hundreds), so the
 * recursive split is cheap.
 */
function innerNodes(lcp: readonly number[], lo: number, hi: number, out: TreeNode[]): void {
  if (hi <= lo) return;
  let depth = Number.POSITIVE_INFINITY;
  for (let i = lo + 1; i <= hi; i++) depth = Math.min(depth, lcp[i] as number);
  const branches: Array<[number, number]> = [];
  let start = lo;
  for (let i = lo + 1; i <= hi; i++) {
    if (lcp[i] === depth) {
      branches.push([start, i - 1]);
      start = i;
    }
  }
  branches.push([start, hi]);
  out.push({ depth, lo, hi, branches });
  for (const [a, b] of branches) innerNodes(lcp, a, b, out);
}

/** The roots worth building once, each group in at most one, the largest saving first. */
export function planSharedRoots(
  groups: readonly RootGroup[],
  options: Partial<SharedRootOptions> = {},
): SharedRoot[] {
  const opts = { ...DEFAULT_SHARED_ROOT_OPTIONS, ...options };
  const byModel = new Map<string, Entry[]>();
  for (const g of groups) {
    const list = byModel.get(g.model) ?? [];
    list.push({ prefixKey: g.prefixKey, text: serialize(g.prefixMessages) });
    byModel.set(g.model, list);
  }
  const roots: SharedRoot[] = [];
  for (const [model, entries] of byModel) {
    entries.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
    const lcp = entries.map((e, i) =>
      i === 0 ? 0 : commonLength((entries[i - 1] as Entry).text, e.text),
    );
    const nodes: TreeNode[] = [];
    innerNodes(lcp, 0, entries.length - 1, nodes);
    const candidates = nodes
      .map((node) => {
        const first = entries[node.lo] as Entry;
        const rootTokens = estimateTokens(first.text.slice(0, node.depth));
        const members = node.hi - node.lo + 1;
        // Followers no longer pay the root at the miss price; builders still do.
        return { node, rootTokens, saving: (members - 2) * rootTokens };
      })
      .filter(
        (c) =>
          c.node.hi - c.node.lo + 1 >= opts.minGroups &&
          c.node.branches.length >= 2 &&
          c.rootTokens >= opts.minRootTokens,
      )
      .sort((a, b) => b.saving - a.saving || a.node.lo - b.node.lo);
    const taken = new Array<boolean>(entries.length).fill(false);
    for (const { node, rootTokens } of candidates) {
      let free = true;
      for (let i = node.lo; i <= node.hi && free; i++) if (taken[i]) free = false;
      if (!free) continue;
      // One builder from each of the two largest branches: their common prefix is the root.
      const [a, b] = [...node.branches].sort((x, y) => y[1] - y[0] - (x[1] - x[0]) || x[0] - y[0]);
      const builders = [a, b].map(
        (range) => (entries[(range as [number, number])[0]] as Entry).prefixKey,
      );
      const followers: string[] = [];
      for (let i = node.lo; i <= node.hi; i++) {
        taken[i] = true;
        const key = (entries[i] as Entry).prefixKey;
        if (!builders.includes(key)) followers.push(key);
      }
      roots.push({ model, rootTokens, builders, followers });
    }
  }
  return roots;
}

interface RootState {
  /** Builders whose first request has not settled yet. */
  pending: Set<string>;
  /** Whether a builder's first request was answered (so the root is being built). */
  answered: boolean;
  /** When the last builder's first request settled, epoch ms. */
  settledAt?: number;
  done: Promise<void>;
  release: () => void;
}

/**
 * Holds each follower back until its root's builders have settled their first requests and the
 * settle time has passed since. A builder that fails, or never sends, releases its followers:
 * they then run as if no root were shared.
 */
export class RootGate {
  private readonly rootOf = new Map<string, RootState>();
  private readonly followerOf = new Map<string, RootState>();

  constructor(
    roots: readonly SharedRoot[],
    private readonly now: () => number,
  ) {
    for (const root of roots) {
      let release = () => {};
      const done = new Promise<void>((resolve) => {
        release = resolve;
      });
      const state: RootState = { pending: new Set(root.builders), answered: false, done, release };
      for (const key of root.builders) this.rootOf.set(key, state);
      for (const key of root.followers) this.followerOf.set(key, state);
    }
  }

  /** A request of group `prefixKey` settled; only a builder's first one counts. */
  settled(prefixKey: string, answered: boolean): void {
    const state = this.rootOf.get(prefixKey);
    if (!state?.pending.delete(prefixKey)) return;
    state.answered ||= answered;
    if (state.pending.size === 0) {
      state.settledAt = this.now();
      state.release();
    }
  }

  /**
   * Resolves when follower `prefixKey` may send its first request: at once for a group that
   * follows no root; else once the builders settled and, if one was answered, `settleMs` after,
   * but no later than `maxWaitMs` from now.
   */
  async ready(
    prefixKey: string,
    settleMs: () => number,
    sleep: (ms: number) => Promise<void>,
    maxWaitMs: number,
  ): Promise<void> {
    const state = this.followerOf.get(prefixKey);
    if (!state) return;
    const giveUpAt = this.now() + Math.max(0, maxWaitMs);
    // Builders never wait on followers and settle even when they send nothing (the executor
    // calls `settled` when a group ends), so this resolves.
    await state.done;
    if (!state.answered || state.settledAt === undefined) return;
    const due = Math.min(state.settledAt + settleMs(), giveUpAt);
    const left = due - this.now();
    if (left > 0) await sleep(left);
  }
}

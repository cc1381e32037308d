import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PromptCache, UNIT_TOKENS } from '../../local/sim/cache';

const forever = { readyAt: 0, expiresAt: Number.POSITIVE_INFINITY };

function lcp(a: Int32Array, b: Int32Array): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function isPrefix(prefix: Int32Array, depth: number, of: Int32Array): boolean {
  return depth <= of.length && lcp(prefix.subarray(0, depth), of) >= depth;
}

// Long runs over a tiny alphabet share long prefixes, which is where a radix trie splits edges.
const promptArb = fc
  .tuple(
    fc.constantFrom(0, 40, 80, 120),
    fc.array(fc.integer({ min: 5, max: 7 }), { minLength: 0, maxLength: 120 }),
  )
  .map(([shared, tail]) =>
    Int32Array.from([...Array.from({ length: shared }, (_, i) => 10 + (i % 3)), ...tail]),
  );

describe('PromptCache radix trie', () => {
  it('units64 hits the longest common prefix with any stored prompt, floored to 64', () => {
    fc.assert(
      fc.property(
        fc.array(promptArb, { minLength: 1, maxLength: 12 }),
        promptArb,
        (stored, query) => {
          // Prepare
          const cache = new PromptCache({ model: 'units64', ttlMs: Number.POSITIVE_INFINITY });
          for (const p of stored) cache.record('u', p, p, forever, 0);

          // Act
          const hit = cache.lookup('u', query, 1);

          // Assess
          const best = Math.max(...stored.map((p) => lcp(p, query)));
          expect(hit).toBe(Math.floor(best / UNIT_TOKENS) * UNIT_TOKENS);
        },
      ),
    );
  });

  it('persisted-units hits the longest persisted unit that is a whole prefix of the request', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(promptArb, fc.array(fc.integer({ min: 8, max: 9 }), { maxLength: 20 })), {
          minLength: 1,
          maxLength: 10,
        }),
        promptArb,
        fc.constantFrom(undefined, 64, 100),
        (requests, query, unitInterval) => {
          // Prepare: the units the rule persists, computed the slow way beside the cache
          const cache = new PromptCache({
            model: 'persisted-units',
            unitInterval,
            ttlMs: Number.POSITIVE_INFINITY,
          });
          const units: Array<{ tokens: Int32Array; depth: number }> = [];
          const seen: Int32Array[] = [];
          for (const [prompt, answer] of requests) {
            const output = Int32Array.from([...prompt, ...answer, 3]);
            const shared = Math.max(0, ...seen.map((p) => lcp(p, prompt)));
            const depths = [prompt.length, output.length, shared];
            if (unitInterval)
              for (let d = unitInterval; d <= output.length; d += unitInterval) depths.push(d);
            for (const depth of depths)
              if (depth >= UNIT_TOKENS) units.push({ tokens: output, depth });
            seen.push(prompt);
            cache.record('u', prompt, output, forever, 0);
          }

          // Act
          const hit = cache.lookup('u', query, 1);

          // Assess
          const best = Math.max(
            0,
            ...units.filter((u) => isPrefix(u.tokens, u.depth, query)).map((u) => u.depth),
          );
          expect(hit).toBe(best);
        },
      ),
    );
  });
});

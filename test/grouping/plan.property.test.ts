import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Plan, type PlanOptions, planBatch } from '../../shared/grouping';
import { batchArb, optionsArb, type TestJob } from './factories';

const BATCH = 'batch-1';

function countBy(ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

function plannedJobs(plan: Plan<TestJob>): TestJob[] {
  return plan.messages.flatMap((message) => message.jobs);
}

describe('planBatch properties', () => {
  it('plans every job exactly once or rejects it with a reason', () => {
    fc.assert(
      fc.property(batchArb, optionsArb, (jobs, options) => {
        // Act
        const plan = planBatch(BATCH, jobs, options);

        // Assess: per id, planned + rejected = given, and nothing planned twice
        const planned = plannedJobs(plan);
        const plannedCounts = countBy(planned.map((job) => job.jobId));
        const rejectedCounts = countBy(plan.rejected.map((r) => r.jobId));
        for (const [id, given] of countBy(jobs.map((job) => job.jobId))) {
          expect((plannedCounts.get(id) ?? 0) + (rejectedCounts.get(id) ?? 0)).toBe(given);
          expect(plannedCounts.get(id) ?? 0).toBeLessThanOrEqual(1);
        }
        expect(planned.length + plan.rejected.length).toBe(jobs.length);
        for (const rejection of plan.rejected) expect(rejection.reason).not.toBe('');
        // Planned records are the caller's own, not copies or inventions.
        const given = new Set(jobs);
        for (const job of planned) expect(given.has(job)).toBe(true);
      }),
    );
  });

  it('keeps each group whole, in consecutive messages numbered from 0', () => {
    fc.assert(
      fc.property(batchArb, optionsArb, (jobs, options) => {
        // Act
        const plan = planBatch(BATCH, jobs, options);

        // Assess
        const groupOrder: string[] = [];
        for (const message of plan.messages) {
          if (groupOrder.at(-1) !== message.prefixKey) {
            expect(groupOrder).not.toContain(message.prefixKey);
            expect(message.seq).toBe(0);
            groupOrder.push(message.prefixKey);
          }
          expect(message.batchId).toBe(BATCH);
          for (const job of message.jobs) {
            expect(job.prefixKey).toBe(message.prefixKey);
            expect(job.model).toBe(message.model);
          }
        }
        expect(plan.groups.map((g) => g.prefixKey)).toEqual(groupOrder);
        for (const group of plan.groups) {
          const messages = plan.messages.filter((m) => m.prefixKey === group.prefixKey);
          expect(messages.map((m) => m.seq)).toEqual(messages.map((_, i) => i));
          for (const message of messages) expect(message.total).toBe(messages.length);
          expect(group.messages).toBe(messages.length);
          expect(group.jobIds).toEqual(messages.flatMap((m) => m.jobs.map((job) => job.jobId)));
          expect(messages.every((m) => m.model === group.model)).toBe(true);
        }
      }),
    );
  });

  it('orders groups longest prefix first and jobs by sort key inside a group', () => {
    fc.assert(
      fc.property(batchArb, optionsArb, (jobs, options) => {
        // Act
        const plan = planBatch(BATCH, jobs, options);

        // Assess
        for (let i = 1; i < plan.groups.length; i++) {
          const [a, b] = [plan.groups[i - 1], plan.groups[i]];
          if (!a || !b) throw new Error('unreachable');
          const rank = (g: typeof a) => [-g.prefixTokens, -g.jobIds.length] as const;
          const [ra, rb] = [rank(a), rank(b)];
          const ordered =
            ra[0] < rb[0] ||
            (ra[0] === rb[0] && (ra[1] < rb[1] || (ra[1] === rb[1] && a.prefixKey < b.prefixKey)));
          expect(ordered).toBe(true);
        }
        for (const group of plan.groups) {
          const groupJobs = plan.messages
            .filter((m) => m.prefixKey === group.prefixKey)
            .flatMap((m) => m.jobs);
          for (let i = 1; i < groupJobs.length; i++) {
            const [a, b] = [groupJobs[i - 1], groupJobs[i]];
            if (!a || !b) throw new Error('unreachable');
            expect(a.sortKey < b.sortKey || (a.sortKey === b.sortKey && a.jobId < b.jobId)).toBe(
              true,
            );
          }
        }
      }),
    );
  });

  it('never exceeds the byte or job-count limit of a message', () => {
    fc.assert(
      fc.property(batchArb, optionsArb, (jobs, options) => {
        // Act
        const plan = planBatch(BATCH, jobs, options);

        // Assess
        for (const message of plan.messages) {
          expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThanOrEqual(
            options.maxMessageBytes,
          );
          expect(message.jobs.length).toBeGreaterThanOrEqual(1);
          expect(message.jobs.length).toBeLessThanOrEqual(options.maxJobsPerMessage);
        }
      }),
    );
  });

  it('cuts a message only when the next job would not fit', () => {
    fc.assert(
      fc.property(batchArb, optionsArb, (jobs, options) => {
        // Act
        const plan = planBatch(BATCH, jobs, options);

        // Assess: the envelope is sized for the widest seq/total, which may cost a few bytes
        const slack = 2 * (String(jobs.length).length - 1);
        plan.messages.forEach((message, i) => {
          const next = plan.messages[i + 1];
          if (next?.prefixKey !== message.prefixKey) return;
          const grown = { ...message, jobs: [...message.jobs, next.jobs[0]] };
          const full = message.jobs.length === options.maxJobsPerMessage;
          const overflows =
            Buffer.byteLength(JSON.stringify(grown)) > options.maxMessageBytes - slack;
          expect(full || overflows).toBe(true);
        });
      }),
    );
  });

  it('makes the same plan for any order of the input', () => {
    const permuted = batchArb.chain((jobs) =>
      fc.tuple(
        fc.constant(jobs),
        fc.shuffledSubarray(jobs, { minLength: jobs.length, maxLength: jobs.length }),
      ),
    );
    fc.assert(
      fc.property(permuted, optionsArb, ([jobs, shuffled], options) => {
        // Act
        const first = planBatch(BATCH, jobs, options);
        const second = planBatch(BATCH, shuffled, options);

        // Assess
        expect(JSON.stringify(second)).toBe(JSON.stringify(first));
      }),
    );
  });

  it('puts the warm-up step on the first chunk of each group only', () => {
    fc.assert(
      fc.property(batchArb, optionsArb, (jobs, options: Required<PlanOptions>) => {
        // Act
        const plan = planBatch(BATCH, jobs, options);

        // Assess
        for (const message of plan.messages) {
          const group = plan.groups.find((g) => g.prefixKey === message.prefixKey);
          if (message.seq === 0 && options.warmup !== 'none')
            expect(message.warmup).toEqual({
              mode: options.warmup,
              prefixTokens: group?.prefixTokens,
            });
          else expect(message).not.toHaveProperty('warmup');
        }
      }),
    );
  });
});

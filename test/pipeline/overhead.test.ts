/**
 * The AWS overhead a batch summary estimates comes from a measured profile of requests per job
 * (shared/pricing/overhead.ts). What must always hold is checked here: every request a run's
 * adapters send is counted, on a priced line, by a caller the profile knows. How close the
 * profile is to a run's count depends on timing (polls, batching windows), so that figure is the
 * benchmark's (`npm run bench -- --e2e 1000` prints it), not a band a unit test could hold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsMeter, usageOfMeter } from '../../local/meter';
import { AWS_REQUEST_UNITS, type AwsUsage, awsCost } from '../../shared/pricing/aws';
import { MEASURED_USAGE_PER_1000_JOBS } from '../../shared/pricing/overhead';
import { HARNESS_EPOCH, type Harness, put, source, startHarness, summariesOfTeam } from './support';

const meter = createAwsMeter();
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ meter });
});

afterAll(async () => {
  await h?.stop();
});

function requestsOnly(usage: AwsUsage, scale: number): AwsUsage {
  return Object.fromEntries(
    AWS_REQUEST_UNITS.map((unit) => [unit, Math.round((usage[unit] ?? 0) * scale)]),
  );
}

describe('the AWS overhead profile', () => {
  it('meters and prices every AWS request of a run, and the summaries estimate an overhead', async () => {
    // Prepare: two projects dropped with a shared context, as the e2e run does; a few files
    // each, as every kind of request is sent for any number of them.
    await h.reset();
    meter.reset();
    const files = 10;
    for (const project of ['alpha', 'beta']) {
      await put(h, `intake/costs/${project}/context/STYLE.md`, `# ${project}\n\nWrite clearly.\n`);
      for (let i = 0; i < files / 2; i++)
        await put(h, `intake/costs/${project}/docs/src/f${i}.ts`, source(i));
    }

    // Act
    await expect
      .poll(async () => (await summariesOfTeam(h, 'costs')).length, { timeout: 60_000 })
      .toBe(2);

    // Assess: the pipeline's callers (the functions, Lambda's pollers, S3's notifications).
    const snapshot = meter.snapshot();
    const callers = Object.keys(snapshot).filter(
      (c) =>
        c.startsWith('warmbatch-') || c.startsWith('lambda-poller:') || c === 's3-notifications',
    );
    expect(callers.length).toBeGreaterThan(4);
    const at = new Date(HARNESS_EPOCH);
    const usage = requestsOnly(usageOfMeter(snapshot, callers), 1);
    const counted = awsCost(usage, at);
    // Every kind of request the pipeline sends was seen, and each is on a priced line.
    for (const unit of AWS_REQUEST_UNITS.filter((u) => u !== 'sqs.standardRequests'))
      expect(usage[unit], unit).toBeGreaterThan(0);
    expect(counted.lines.map((l) => l.unit).sort()).toEqual(
      AWS_REQUEST_UNITS.filter((u) => (usage[u] ?? 0) > 0).sort(),
    );
    for (const line of counted.lines) expect(line.nanoUsd, line.unit).toBeGreaterThan(0);
    const profile = awsCost(requestsOnly(MEASURED_USAGE_PER_1000_JOBS, 1), at);
    for (const summary of await summariesOfTeam(h, 'costs'))
      expect(summary.awsOverhead.per1000JobsNanoUsd).toBeGreaterThan(profile.totalNanoUsd);
  }, 120_000);
});

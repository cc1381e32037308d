import { describe, expect, it } from 'vitest';
import {
  AWS_PRICE_ROWS,
  AWS_UNITS,
  addAwsUsage,
  awsCost,
  awsPriceBook,
  scaleAwsUsage,
} from '../../shared/pricing/aws';

const AT = new Date('2026-11-30T12:00:00Z');

describe('the AWS price book', () => {
  it('holds the us-east-1 list prices it names, each with its source', () => {
    const book = awsPriceBook();
    const price = (unit: (typeof AWS_UNITS)[number]) => book.rowOf(unit, AT).microUsdPerMillion;

    // USD per million units x 1,000,000.
    expect(price('s3.putRequests')).toBe(5_000_000); // $0.005 per 1,000
    expect(price('s3.getRequests')).toBe(400_000); // $0.0004 per 1,000
    expect(price('dynamodb.writeUnits')).toBe(625_000);
    expect(price('dynamodb.readUnits')).toBe(125_000);
    expect(price('sqs.standardRequests')).toBe(400_000);
    expect(price('sqs.fifoRequests')).toBe(500_000);
    expect(price('lambda.requests')).toBe(200_000);
    expect(price('lambda.armDuration')).toBe(13_333_400); // $0.0000133334 per GB-s
    expect(price('secretsmanager.calls')).toBe(5_000_000); // $0.05 per 10,000
    expect(price('logs.ingestedBytes')).toBe(500); // $0.50 per 10^9 bytes
    for (const unit of AWS_UNITS) expect(book.rowOf(unit, AT).source).toMatch(/\S{10}/);
  });

  it('prices DynamoDB at the rate in force: before and after the 1 November 2024 cut', () => {
    const book = awsPriceBook();
    const before = new Date('2024-10-31T23:59:59Z');
    const after = new Date('2024-11-01T00:00:00Z');

    expect(book.rowOf('dynamodb.writeUnits', before).microUsdPerMillion).toBe(1_250_000);
    expect(book.rowOf('dynamodb.writeUnits', after).microUsdPerMillion).toBe(625_000);
    expect(book.rowOf('dynamodb.readUnits', before).microUsdPerMillion).toBe(250_000);
    expect(() => book.rowOf('s3.putRequests', new Date('2020-01-01T00:00:00Z'))).toThrow(
      /no AWS price/,
    );
  });

  it('lets a configured row replace a built-in one from its start', () => {
    const book = awsPriceBook([
      { unit: 's3.putRequests', microUsdPerMillion: 5_400_000, from: '2026-01-01T00:00:00Z' },
    ]);

    expect(book.rowOf('s3.putRequests', AT)).toMatchObject({
      microUsdPerMillion: 5_400_000,
      source: 'configured',
    });
    expect(book.rowOf('s3.putRequests', new Date('2025-06-01T00:00:00Z')).microUsdPerMillion).toBe(
      5_000_000,
    );
    expect(() =>
      awsPriceBook([
        { unit: 's3.putRequests', microUsdPerMillion: 0.5, from: '2026-01-01T00:00:00Z' },
      ]),
    ).toThrow(/integer/);
  });

  it('marks the rows whose figure or application could not be confirmed', () => {
    const uncertain = AWS_PRICE_ROWS.filter((r) => r.uncertain).map((r) => r.unit);
    expect(uncertain).toContain('lambda.armDuration');
    expect(uncertain).toContain('logs.ingestedBytes');
  });
});

describe('awsCost', () => {
  it('prices exactly in integers and rounds the total once', () => {
    // Prepare: 1 GB for 1 s on arm64 = $0.0000133334 = 13,333.4 nano-USD; 3 reads of half a unit.
    const usage = { 'lambda.armDuration': 1_024_000, 'dynamodb.readUnits': 3 };

    // Act
    const cost = awsCost(usage, AT);

    // Assess: 1.5 read units at $0.125 per million = 187.5 nano-USD; 13,333.4 + 187.5 = 13,520.9,
    // rounded once to 13,521; each service line is rounded on its own (display only).
    expect(cost.totalNanoUsd).toBe(13_521);
    expect(cost.byService).toEqual({ Lambda: 13_333, DynamoDB: 188 });
    expect(cost.lines.map((l) => l.unit)).toEqual(['dynamodb.readUnits', 'lambda.armDuration']);
  });

  it('prices a thousand jobs of a typical profile', () => {
    // Two PUTs and two GETs a job, 20 write units (counted in halves), 1,000 jobs.
    const perJob = { 's3.putRequests': 2, 's3.getRequests': 2, 'dynamodb.writeUnits': 40 };

    const cost = awsCost(scaleAwsUsage(perJob, 1000), AT);

    // $0.01 + $0.0008 + $0.0125
    expect(cost.totalNanoUsd).toBe(23_300_000);
  });

  it('refuses fractional or negative quantities', () => {
    expect(() => awsCost({ 's3.putRequests': 1.5 }, AT)).toThrow(/integer/);
    expect(() => awsCost({ 's3.putRequests': -1 }, AT)).toThrow(/integer/);
  });

  it('adds usages unit by unit', () => {
    expect(
      addAwsUsage({ 's3.putRequests': 1 }, { 's3.putRequests': 2, 'lambda.requests': 1 }),
    ).toEqual({
      's3.putRequests': 3,
      'lambda.requests': 1,
    });
  });
});

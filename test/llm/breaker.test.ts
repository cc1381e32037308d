import { describe, expect, it } from 'vitest';
import {
  admit,
  afterCall,
  type BreakerConfig,
  type BreakerState,
  type CallOutcome,
  CLOSED_BREAKER,
} from '../../shared/llm/breaker';

const CONFIG: BreakerConfig = { failureThreshold: 3, openMs: 1_000, probeLeaseMs: 200 };
const T = 10_000;

const closed = (failures = 0): BreakerState => ({ ...CLOSED_BREAKER, failures });
const open = (until = T + 500): BreakerState => ({
  ...CLOSED_BREAKER,
  status: 'open',
  failures: 3,
  openedAt: until - CONFIG.openMs,
  openUntil: until,
  opened: 1,
});
const halfOpen = (probeUntil = T + 100): BreakerState => ({
  ...CLOSED_BREAKER,
  status: 'half-open',
  failures: 3,
  probeUntil,
  opened: 1,
});

describe('after a call', () => {
  const cases: Array<[string, BreakerState, CallOutcome, Partial<BreakerState>]> = [
    ['counts a failure while closed', closed(1), 'failure', { status: 'closed', failures: 2 }],
    [
      'opens on the failure that reaches the threshold',
      closed(2),
      'failure',
      { status: 'open', failures: 3, openUntil: T + 1_000, opened: 1 },
    ],
    ['forgets failures on a success', closed(2), 'success', { status: 'closed', failures: 0 }],
    ['takes a refusal (400) as a sign of life', closed(2), 'neutral', { failures: 0 }],
    ['stays open on a late failure', open(), 'failure', { status: 'open', openUntil: T + 500 }],
    ['stays open on a late success', open(), 'success', { status: 'open' }],
    [
      'closes when the probe succeeds',
      halfOpen(),
      'success',
      { status: 'closed', failures: 0, closed: 1 },
    ],
    [
      'opens again, as the same outage, when the probe fails',
      halfOpen(),
      'failure',
      { status: 'open', openUntil: T + 1_000, opened: 1 },
    ],
  ];
  it.each(cases)('%s', (_name, before, outcome, expected) => {
    expect(afterCall(before, outcome, T, CONFIG)).toMatchObject(expected);
  });
});

describe('admission', () => {
  const cases: Array<[string, BreakerState, { allow: boolean; probe?: boolean; status: string }]> =
    [
      [
        'lets every call through while closed',
        closed(2),
        { allow: true, probe: false, status: 'closed' },
      ],
      ['refuses while open', open(T + 1), { allow: false, status: 'open' }],
      [
        'lets one probe through once the open time is over',
        open(T),
        { allow: true, probe: true, status: 'half-open' },
      ],
      [
        'refuses others while the probe is out',
        halfOpen(T + 1),
        { allow: false, status: 'half-open' },
      ],
      [
        'hands the probe on when its lease ran out (a probe lost with its worker)',
        halfOpen(T),
        { allow: true, probe: true, status: 'half-open' },
      ],
    ];
  it.each(cases)('%s', (_name, before, expected) => {
    const out = admit(before, T, CONFIG);
    expect(out.allow).toBe(expected.allow);
    if (out.allow) expect(out.probe).toBe(expected.probe);
    expect(out.next.status).toBe(expected.status);
  });

  it('says when an open breaker lets a probe through', () => {
    const out = admit(open(T + 700), T, CONFIG);
    expect(out.allow === false && out.retryAt).toBe(T + 700);
  });
});

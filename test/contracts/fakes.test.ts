/**
 * The in-memory fakes held to the contracts their DynamoDB (and S3, SQS) adapters meet in
 * test/aws/, so rule tests written over the fakes say something about production.
 */
import { beforeEach, describe } from 'vitest';
import { createMemoryObjectStore } from '../../shared/aws/object-store';
import { fakeJobsStore } from '../support/fakes/jobs';
import { fakeLedgerStore, newFakeLedgerTable } from '../support/fakes/ledger';
import { fakeQueueSender } from '../support/fakes/queue';
import { jobsStoreContract } from './jobs.contract';
import { ledgerStoreContract } from './ledger.contract';
import { objectStoreContract } from './objects.contract';
import { queueSenderContract } from './queue.contract';

describe('in-memory JobsStore', () => {
  jobsStoreContract(() => fakeJobsStore());
});

describe('in-memory ObjectStore', () => {
  objectStoreContract(() => createMemoryObjectStore());
});

describe('in-memory QueueSender', () => {
  queueSenderContract(() => {
    const sender = fakeQueueSender();
    return {
      sender,
      standardUrl: 'http://queues.test/000000000000/finalize',
      fifoUrl: 'http://queues.test/000000000000/work.fifo',
      bodies: (url) => sender.bodies(url),
    };
  });
});

describe('in-memory LedgerStore', () => {
  // As the emulated tables: empty at each test, shared by every store a test makes.
  let table = newFakeLedgerTable();
  beforeEach(() => {
    table = newFakeLedgerTable();
  });
  ledgerStoreContract(() => ({ jobs: fakeJobsStore(table.jobs), ledger: fakeLedgerStore(table) }));
});

/**
 * The in-memory fakes held to the contracts their DynamoDB (and S3, SQS) adapters meet in
 * test/aws/, so rule tests written over the fakes say something about production.
 */
import { describe } from 'vitest';
import { fakeJobsStore } from '../support/fakes/jobs';
import { jobsStoreContract } from './jobs.contract';

describe('in-memory JobsStore', () => {
  jobsStoreContract(() => fakeJobsStore());
});

import { describe } from 'vitest';
import { createS3ObjectStore } from '../../shared/aws/object-store';
import { objectStoreContract } from '../contracts/objects.contract';
import { useLocalAws } from '../support/emulators';

const aws = useLocalAws();

describe('S3 (fauxqs) object store', () => {
  // Small pages, so that listing crosses page boundaries without writing a thousand objects.
  objectStoreContract(() =>
    createS3ObjectStore(aws.clients.s3, aws.resources.bucket, { listPageSize: 3 }),
  );
});

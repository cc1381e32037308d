/** The DynamoDB LedgerStore (with the JobsStore it settles into) held to the ledger contract. */
import { createJobsStore } from '../../shared/aws/jobs';
import { createLedgerStore } from '../../shared/aws/ledger-store';
import { ledgerStoreContract } from '../contracts/ledger.contract';
import { useLocalAws } from '../support/emulators';

const aws = useLocalAws();

ledgerStoreContract(() => {
  const ddb = aws.clients.doc;
  const { jobs: jobsTable, ledger: ledgerTable } = aws.resources.tables;
  return {
    jobs: createJobsStore({ ddb, table: jobsTable }),
    ledger: createLedgerStore({ ddb, ledgerTable, jobsTable }),
  };
});

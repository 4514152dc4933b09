/** The labels the Reconciliation controller puts on what it creates (kinds: ../kinds.ts, runtime/resources.ts). */
export const LABEL_RECONCILIATION = 'cutover.nokta.io/reconciliation';
export const LABEL_RUN = 'cutover.nokta.io/run';
export const LABEL_SHARD_RESULT = 'cutover.nokta.io/shard-result';

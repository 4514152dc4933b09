/** Every controller of the operator; `cutover operator` imports this module to register them. */
import './reconciliation/index.js';
import './cutover/index.js';
import './canary-phase/index.js';

/** Registers the Reconciliation controller with the operator. */
import { registerController } from '../../runtime/controller-registry.js';
import { reconciliationController } from './sync.js';

registerController(reconciliationController());

/** Registers the CanaryPhase controller with the operator. */
import { registerController } from '../../runtime/controller-registry.js';
import { canaryPhaseController } from './sync.js';

registerController(canaryPhaseController());

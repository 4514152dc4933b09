/** Registers the Cutover controller with the operator. */
import { registerController } from '../../runtime/controller-registry.js';
import { cutoverController } from './sync.js';

registerController(cutoverController());

/** The fast cpu Conv2DBackpropFilter (src/runtime/tfjs-conv-grad.ts) on this script's TF.js module. */
import * as tf from '@tensorflow/tfjs';
import { checkFastConvFilterGrad as check, installFastConvFilterGrad as install } from '../../src/runtime/tfjs-conv-grad.js';

export function installFastConvFilterGrad(): void {
  install(tf);
}

export function checkFastConvFilterGrad(): number {
  return check(tf);
}

/**
 * What Keras has and TF.js lacks or computes differently, registered into TF.js so that a Keras
 * model rebuilt in TF.js (the reference the numerical check runs) means what it meant in Keras.
 *
 * keras-config.ts renames the Keras classes and activations concerned to these names; the
 * converter knows them by the same names. They are not standard TF.js classes, so a model that
 * uses them cannot be exported back to TF.js for the browser (tfjs-export.ts refuses it).
 */
import type * as tf from '@tensorflow/tfjs';

/** Activations: camel-cased Keras names (TF.js camel-cases every config string it reads). */
const EXTRA_ACTIVATIONS: Record<string, (t: typeof tf, x: tf.Tensor) => tf.Tensor> = {
  // Keras 3's leaky_relu activation function uses negative_slope 0.2.
  leakyRelu: (t, x) => t.leakyRelu(x, 0.2),
  silu: (t, x) => t.mul(x, t.sigmoid(x)),
  // x · relu6(x + 3) / 6
  hardSilu: (t, x) => t.mul(x, t.div(t.clipByValue(t.add(x, 3), 0, 6), 6)),
  hardSwish: (t, x) => t.mul(x, t.div(t.clipByValue(t.add(x, 3), 0, 6), 6)),
  exponential: (t, x) => t.exp(x),
  // Keras 3 changed hard_sigmoid from clip(0.2x + 0.5) to relu6(x + 3) / 6.
  keras3HardSigmoid: (t, x) => t.div(t.clipByValue(t.add(x, 3), 0, 6), 6),
};

export const EXTRA_LAYER_CLASSES = ['Subtract', 'KerasUpSampling2D', 'CausalConv1D', 'GRUResetAfter'] as const;
export const EXTRA_ACTIVATION_NAMES = Object.keys(EXTRA_ACTIVATIONS);

const registered = new WeakSet<object>();

type Ctor = new (args: Record<string, unknown>) => tf.layers.Layer;
type Kwargs = Record<string, unknown>;

/** Registers the extras once per TF.js instance. */
export function registerKerasExtras(t: typeof tf): void {
  if (registered.has(t.serialization)) return;
  registered.add(t.serialization);

  for (const [name, fn] of Object.entries(EXTRA_ACTIVATIONS)) {
    class ExtraActivation extends t.serialization.Serializable {
      static className = name;
      apply(x: tf.Tensor): tf.Tensor {
        return t.tidy(() => fn(t, x));
      }
      getConfig(): tf.serialization.ConfigDict {
        return {};
      }
    }
    t.serialization.registerClass(ExtraActivation);
  }

  // TF.js has no Subtract layer; it is the Add merge layer with a different function.
  const Merge = Object.getPrototypeOf(t.layers.add({}).constructor) as Ctor;
  class Subtract extends (Merge as unknown as new (args: Kwargs) => tf.layers.Layer & { mergeFunction(inputs: tf.Tensor[]): tf.Tensor }) {
    static className = 'Subtract';
    override mergeFunction(inputs: tf.Tensor[]): tf.Tensor {
      if (inputs.length !== 2) throw new Error(`Subtract takes exactly 2 inputs, got ${inputs.length}`);
      return t.sub(inputs[0]!, inputs[1]!);
    }
  }
  t.serialization.registerClass(Subtract as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

  // Keras' bilinear UpSampling2D uses half-pixel centers; TF.js' samples at the corners.
  const UpSampling2D = t.layers.upSampling2d({}).constructor as Ctor;
  class KerasUpSampling2D extends (UpSampling2D as unknown as new (args: Kwargs) => tf.layers.Layer & { size: number[]; interpolation: string }) {
    static className = 'KerasUpSampling2D';
    override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
      if (this.interpolation !== 'bilinear') return super.call(inputs, kwargs);
      return t.tidy(() => {
        const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
        return t.image.resizeBilinear(x, [x.shape[1] * this.size[0]!, x.shape[2] * this.size[1]!], false, true);
      });
    }
  }
  t.serialization.registerClass(KerasUpSampling2D as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

  // TF.js Conv1D throws on padding 'causal': pad the past by hand, then convolve 'valid'.
  const Conv1D = t.layers.conv1d({ filters: 1, kernelSize: 1 }).constructor as Ctor;
  class CausalConv1D extends (Conv1D as unknown as new (args: Kwargs) => tf.layers.Layer & { kernelSize: number[]; dilationRate: number[] }) {
    static className = 'CausalConv1D';
    constructor(args: Kwargs) {
      super({ ...args, padding: 'valid' });
    }
    private get past(): number {
      return (this.kernelSize[0]! - 1) * (this.dilationRate[0] ?? 1);
    }
    override computeOutputShape(shape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
      const s = shape as tf.Shape;
      return super.computeOutputShape([s[0]!, s[1] == null ? null : s[1] + this.past, s[2]!]);
    }
    override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
      return t.tidy(() => {
        const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor3D;
        return super.call(t.pad(x, [[0, 0], [this.past, 0], [0, 0]]), kwargs);
      });
    }
    override getConfig(): tf.serialization.ConfigDict {
      return { ...super.getConfig(), padding: 'causal' };
    }
  }
  t.serialization.registerClass(CausalConv1D as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

  registerGruResetAfter(t);
}

/** What the GRU cell code below uses of TF.js' GRUCell (its fields are not in the public typings). */
interface GruCellFields {
  units: number;
  useBias: boolean;
  kernel: tf.LayerVariable;
  recurrentKernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  activation: { apply(x: tf.Tensor): tf.Tensor };
  recurrentActivation: { apply(x: tf.Tensor): tf.Tensor };
  kernelInitializer: unknown;
  recurrentInitializer: unknown;
  biasInitializer: unknown;
  built: boolean;
  addWeight(name: string, shape: number[], dtype: null, initializer: unknown, regularizer?: unknown, trainable?: boolean): tf.LayerVariable;
}

/**
 * Keras' GRU with reset_after=True (the default since TF 2 and in Keras 3), which TF.js refuses:
 * the reset gate multiplies the recurrent term after its matmul, and input and recurrent biases
 * are separate (bias shape [2, 3·units]).
 */
function registerGruResetAfter(t: typeof tf): void {
  const GRUCell = t.layers.gruCell({ units: 1 }).constructor as unknown as new (args: Kwargs) => tf.layers.Layer & GruCellFields;
  class GRUCellResetAfter extends GRUCell {
    static className = 'GRUCellResetAfter';
    override build(inputShape: tf.Shape | tf.Shape[]): void {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
      const inputDim = shape[shape.length - 1]!;
      this.kernel = this.addWeight('kernel', [inputDim, this.units * 3], null, this.kernelInitializer, undefined, true);
      this.recurrentKernel = this.addWeight('recurrent_kernel', [this.units, this.units * 3], null, this.recurrentInitializer, undefined, true);
      this.bias = this.useBias ? this.addWeight('bias', [2, this.units * 3], null, this.biasInitializer, undefined, true) : null;
      this.built = true;
    }
    override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
      return t.tidy(() => {
        const [x, hPrev] = inputs as tf.Tensor[];
        let mx = t.matMul(x as tf.Tensor2D, this.kernel.read() as tf.Tensor2D) as tf.Tensor;
        let mh = t.matMul(hPrev as tf.Tensor2D, this.recurrentKernel.read() as tf.Tensor2D) as tf.Tensor;
        if (this.bias) {
          const [inputBias, recurrentBias] = t.unstack(this.bias.read());
          mx = t.add(mx, inputBias!);
          mh = t.add(mh, recurrentBias!);
        }
        const [xz, xr, xh] = t.split(mx, 3, -1);
        const [hz, hr, hh] = t.split(mh, 3, -1);
        const z = this.recurrentActivation.apply(t.add(xz!, hz!));
        const r = this.recurrentActivation.apply(t.add(xr!, hr!));
        const candidate = this.activation.apply(t.add(xh!, t.mul(r, hh!)));
        const h = t.add(t.mul(z, hPrev!), t.mul(t.sub(1, z), candidate));
        return [h, h];
      });
    }
  }

  const GRU = t.layers.gru({ units: 1 }).constructor as unknown as new (args: Kwargs) => tf.layers.Layer & { cell: unknown };
  class GRUResetAfter extends GRU {
    static className = 'GRUResetAfter';
    constructor(args: Kwargs) {
      const { resetAfter: _, ...rest } = args;
      super({ ...rest });
      // TF.js' GRU builds a GRUCell that rejects reset_after; this cell replaces it before anything is built.
      this.cell = new GRUCellResetAfter({ ...rest });
    }
    override getConfig(): tf.serialization.ConfigDict {
      return { ...super.getConfig(), resetAfter: true };
    }
  }
  t.serialization.registerClass(GRUResetAfter as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
}

/** A registered extra layer class by name, for building test models directly. */
export function extraLayer(t: typeof tf, className: (typeof EXTRA_LAYER_CLASSES)[number], args: Kwargs): tf.layers.Layer {
  registerKerasExtras(t);
  const entry = t.serialization.SerializationMap.getMap().classNameMap[className];
  if (!entry) throw new Error(`${className} is not registered`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, args as tf.serialization.ConfigDict) as unknown as tf.layers.Layer;
}

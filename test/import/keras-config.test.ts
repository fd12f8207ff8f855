/**
 * Keras config normalization on configs shaped like the ones Keras writes: a Keras 3 config.json
 * (module/registered_name wrappers, DTypePolicy, build_config, compile_config), a Keras 2.2
 * list-style Sequential, a Sequential saved without an InputLayer, and the options TF.js would
 * silently ignore while they change the result.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { kerasSnakeCase, looksLikeKeras3, normalizeKerasConfig } from '../../src/import/keras-config.js';
import { buildTfjsModel } from '../../src/import/keras-model.js';
import { useWasm } from '../support/tfjs-check.js';

beforeAll(useWasm);

const policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
const glorot = { module: 'keras.initializers', class_name: 'GlorotUniform', config: { seed: null }, registered_name: null };
const dense = (name: string, units: number, activation: string, inputShape: Array<number | null>) => ({
  module: 'keras.layers',
  class_name: 'Dense',
  config: {
    name, trainable: true, dtype: policy, units, activation, use_bias: true,
    kernel_initializer: glorot, bias_initializer: { module: 'keras.initializers', class_name: 'Zeros', config: {}, registered_name: null },
    kernel_regularizer: null, bias_regularizer: null, kernel_constraint: null, bias_constraint: null,
  },
  registered_name: null,
  build_config: { input_shape: inputShape },
});

/** Shaped like the config.json of a Keras 3.x `Sequential([Input((8,)), Dense(12), Dense(8), Dense(1)])` after compile and fit. */
const keras3Sequential = {
  module: 'keras',
  class_name: 'Sequential',
  config: {
    name: 'sequential', trainable: true, dtype: policy,
    layers: [
      { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 8], dtype: 'float32', sparse: false, ragged: false, name: 'input_layer' }, registered_name: null },
      dense('dense', 12, 'relu', [null, 8]),
      dense('dense_1', 8, 'relu', [null, 12]),
      dense('dense_2', 1, 'sigmoid', [null, 8]),
    ],
    build_input_shape: [null, 8],
  },
  registered_name: null,
  build_config: { input_shape: [null, 8] },
  compile_config: { optimizer: { module: 'keras.optimizers', class_name: 'Adam', config: { name: 'adam', learning_rate: 0.001 }, registered_name: null }, loss: 'binary_crossentropy', metrics: ['accuracy'] },
};

describe('normalizeKerasConfig', () => {
  it('turns a Keras 3 config.json into a config TF.js rebuilds', async () => {
    expect(looksLikeKeras3(keras3Sequential)).toBe(true);
    const topology = normalizeKerasConfig(structuredClone(keras3Sequential), { source: 'config.json' });
    const text = JSON.stringify(topology);
    for (const gone of ['"module"', '"registered_name"', '"build_config"', '"compile_config"', '"batch_shape"', 'DTypePolicy', 'GlorotUniform', 'build_input_shape']) expect(text).not.toContain(gone);
    const input = (topology.config.layers as Array<{ config: Record<string, unknown> }>)[0]!.config;
    expect(input).toMatchObject({ batch_input_shape: [null, 8], dtype: 'float32', name: 'input_layer' });
    const model = await buildTfjsModel(tf, topology, 'config.json');
    expect(model.layers.map((l) => [l.name, l.getClassName()])).toEqual([['input_layer', 'InputLayer'], ['dense', 'Dense'], ['dense_1', 'Dense'], ['dense_2', 'Dense']]);
    expect(model.inputs[0]!.shape).toEqual([null, 8]);
  });

  it('reads a Keras 2.2 Sequential config (a bare list of layers) and a Sequential saved without an InputLayer', async () => {
    const legacy = { class_name: 'Sequential', config: [{ class_name: 'Dense', config: { name: 'dense_1', units: 3, activation: 'linear', batch_input_shape: [null, 4], dtype: 'float32' } }] };
    const model = await buildTfjsModel(tf, normalizeKerasConfig(legacy, { source: 'old.h5' }), 'old.h5');
    expect(model.outputs[0]!.shape).toEqual([null, 3]);

    const unbuilt = structuredClone(keras3Sequential) as { config: { layers: unknown[] } };
    unbuilt.config.layers = unbuilt.config.layers.slice(1);
    const fromBuildConfig = normalizeKerasConfig(unbuilt, { source: 'config.json' });
    expect((fromBuildConfig.config.layers as Array<{ config: Record<string, unknown> }>)[0]!.config.batch_input_shape).toEqual([null, 8]);
    const neverBuilt = { ...structuredClone(unbuilt), build_config: undefined } as unknown as { config: Record<string, unknown> };
    delete neverBuilt.config.build_input_shape;
    expect(() => normalizeKerasConfig(neverBuilt, { source: 'config.json' })).toThrow(/no input shape \(it was saved before being built\)/);
  });

  it('refuses, by layer and class, options TF.js would ignore while they change the result', () => {
    const withLayer = (layer: Record<string, unknown>) => {
      const c = structuredClone(keras3Sequential) as { config: { layers: unknown[] } };
      c.config.layers.splice(1, 0, { module: 'keras.layers', registered_name: null, ...layer });
      return c;
    };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ class_name: 'ReLU', config: { name: 'r', negative_slope: 0.1, threshold: 0 } }, /layer 'r' \(ReLU\): negative_slope ≠ 0 is not supported/],
      [{ class_name: 'Conv1D', config: { name: 'g', filters: 4, kernel_size: [3], groups: 2 } }, /layer 'g' \(Conv1D\): groups=2 \(grouped convolution\) is not supported/],
      [{ class_name: 'GlobalAveragePooling1D', config: { name: 'k', keepdims: true } }, /layer 'k' \(GlobalAveragePooling1D\): keepdims=True is not supported/],
      [{ class_name: 'Dense', config: { name: 'l', units: 2, lora_rank: 4 } }, /layer 'l' \(Dense\): LoRA layers are not supported/],
      [{ class_name: 'UpSampling2D', config: { name: 'u', interpolation: 'bicubic' } }, /layer 'u' \(UpSampling2D\): interpolation 'bicubic' is not supported/],
      [{ class_name: 'TFOpLambda', config: { name: 'tf.math.add' } }, /layer 'tf.math.add' \(TFOpLambda\): is not supported by the converter; supported layers: /],
      [{ class_name: 'Dense', config: { name: 'huge', units: 1e12 } }, /layer 'huge' \(Dense\): units=1000000000000 is not a plausible layer width/],
    ];
    for (const [layer, message] of cases) expect(() => normalizeKerasConfig(withLayer(layer), { source: 'config.json' })).toThrow(message);

    const leaky = normalizeKerasConfig(withLayer({ class_name: 'LeakyReLU', config: { name: 'leaky', negative_slope: 0.2 } }), { source: 'config.json' });
    expect((leaky.config.layers as Array<{ config: Record<string, unknown> }>)[1]!.config).toMatchObject({ alpha: 0.2 });
  });

  it('refuses functional calls that pass tensors as keyword arguments', () => {
    const tensor = (name: string) => ({ class_name: '__keras_tensor__', config: { shape: [null, 4, 3], dtype: 'float32', keras_history: [name, 0, 0] } });
    const config = {
      module: 'keras.src.models.functional', class_name: 'Functional', registered_name: 'Functional',
      config: {
        name: 'f',
        layers: [
          { class_name: 'InputLayer', name: 'x', config: { batch_shape: [null, 4, 3], name: 'x' }, inbound_nodes: [] },
          { class_name: 'LSTM', name: 'lstm', config: { name: 'lstm', units: 2 }, inbound_nodes: [{ args: [tensor('x')], kwargs: { mask: tensor('x') } }] },
        ],
        input_layers: ['x', 0, 0],
        output_layers: ['lstm', 0, 0],
      },
    };
    expect(() => normalizeKerasConfig(config, { source: 'config.json' })).toThrow(/layer 'lstm' \(LSTM\): takes tensors as keyword arguments/);
  });
});

describe('kerasSnakeCase (how Keras 3 names weight groups)', () => {
  it.each([
    ['Dense', 'dense'],
    ['Conv2D', 'conv2d'],
    ['Conv2DTranspose', 'conv2d_transpose'],
    ['DepthwiseConv2D', 'depthwise_conv2d'],
    ['BatchNormalization', 'batch_normalization'],
    ['LSTM', 'lstm'],
    ['GRU', 'gru'],
    ['LeakyReLU', 'leaky_re_lu'],
    ['ZeroPadding2D', 'zero_padding2d'],
    ['GlobalAveragePooling2D', 'global_average_pooling2d'],
  ])('%s → %s', (name, snake) => expect(kerasSnakeCase(name)).toBe(snake));
});

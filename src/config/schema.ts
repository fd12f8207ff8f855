/**
 * The config's JSON Schema: the one definition of modelgate.yml. `npm run schema` writes it to
 * schema/modelgate.schema.json (editors use it for completion); a test keeps the two equal.
 * Pass options are validated by each pass's own schema (src/passes), not here.
 */
const positiveInt = { type: 'integer', minimum: 1 } as const;
const dtype = { enum: ['float32', 'float16', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool'] } as const;
const candidateName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'Candidate id: letters, digits, . _ -' } as const;
const numberOrList = { oneOf: [{ type: 'number' }, { type: 'array', items: { type: 'number' }, minItems: 1 }] } as const;

const columnList = { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: 1000000 } as const;

/** `dataset:` and `calibration:`. Exactly one of inputs/images is checked when the data loads (src/data/dataset.ts), with a plainer message than a schema oneOf gives. */
function datasetSection(description: string) {
  return {
    type: 'object',
    description,
    additionalProperties: false,
    properties: {
      inputs: { type: 'string', minLength: 1, description: '.npy, .npz, IDX (.idx3-ubyte, optionally .gz), .csv (with a header) or .jsonl' },
      labels: { type: 'string', minLength: 1, description: '.npy or IDX (.idx1-ubyte, optionally .gz), one row per sample' },
      label: { type: 'string', minLength: 1, description: 'The label column (CSV), key (JSON Lines) or array (.npz) in the inputs file.' },
      features: {
        description: 'CSV: the columns that feed the input, in order (default: every column but the label), or a list per model input.',
        oneOf: [columnList, { type: 'object', minProperties: 1, additionalProperties: columnList }],
      },
      images: { type: 'string', minLength: 1, description: 'An image folder: one subfolder per class, PNG or JPEG images inside.' },
      classes: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, uniqueItems: true, description: 'Class order of an image folder; default: sorted folder names.' },
      limit: { ...positiveInt, maximum: 1e9 },
      preprocess: {
        type: 'object',
        additionalProperties: false,
        properties: { scale: { type: 'number', minimum: -1e9, maximum: 1e9 }, mean: numberOrList, std: numberOrList },
      },
    },
  } as const;
}

export const configSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://github.com/modelgate/modelgate/schema/modelgate.schema.json',
  title: 'ModelGate configuration (modelgate.yml)',
  type: 'object',
  additionalProperties: false,
  required: ['model'],
  properties: {
    model: { type: 'string', minLength: 1, description: 'Path to the model (.onnx, .tflite, Keras .h5/.keras, or a TF.js model.json), relative to this file.' },
    inputs: {
      type: 'object',
      description: 'Per model input: fixes dynamic dimensions, and drives synthetic data when there is no dataset.',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          shape: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 268435456 }, minItems: 0, maxItems: 8, description: 'Every dimension; a symbolic one may be 0 (an empty KV cache). The batch axis takes benchmark.batch.' },
          dtype,
          range: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 },
        },
      },
    },
    dataset: datasetSection('The labelled data candidates are evaluated on.'),
    calibration: datasetSection('The data that calibrating passes (static int8, TFLite int8) learn from; default: the dataset (the report then says that calibration and evaluation data overlap).'),
    metric: { enum: ['top1', 'top5', 'mse', 'mae', 'binary', 'f1_macro'], default: 'top1' },
    metric_options: {
      type: 'object',
      additionalProperties: false,
      properties: {
        output: { type: 'string', minLength: 1, maxLength: 1024, description: 'The model output the metric reads; default: the first.' },
        threshold: { type: 'number', minimum: 0, maximum: 1, default: 0.5, description: 'binary: probability above which a sample is class 1.' },
        activation: { enum: ['sigmoid', 'softmax', 'none'], description: 'binary: how output values become the class-1 probability; default sigmoid for one value, softmax for two.' },
      },
    },
    // ---- export (issue 5: src/import/export-command.ts) ----
    export: {
      type: 'object',
      additionalProperties: false,
      required: ['run'],
      description: 'A command that writes the model before the pipeline runs (torch.onnx.export, tf2onnx, ...), run in this file\'s folder.',
      properties: {
        run: { type: 'string', minLength: 1, description: 'Shell command, e.g. "python export.py --out build/model.onnx".' },
        output: { type: 'string', minLength: 1, description: 'The file the command must write; default: model.' },
        timeout: { type: 'number', exclusiveMinimum: 0, maximum: 86400, default: 600, description: 'Seconds before the command is killed.' },
      },
    },
    tfjs_export: {
      type: 'object',
      additionalProperties: false,
      description: 'Write the (Keras or TF.js) source model as TF.js layers models for the web; each variant becomes a candidate run on TF.js, measured in the same run as the others.',
      properties: {
        quantize: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['none', 'uint8', 'uint16', 'float16'] }, default: ['uint8'], description: 'Weight storage of each variant.' },
        runs: { ...positiveInt, default: 50, description: 'Timed predict() calls per variant.' },
      },
    },
    // ---- end export ----
    optimize: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        // ---- auto: an entry is either { name, passes } or { auto: {...}, name? } (src/passes/auto.ts) ----
        if: { required: ['auto'] },
        then: {
          additionalProperties: false,
          properties: {
            name: candidateName,
            auto: {
              type: ['object', 'null'],
              description: 'Search the recipe on the runner: the smallest model within the accuracy budget that is not slower than fp32.',
              additionalProperties: false,
              properties: {
                accuracy_drop_max: { type: 'number', minimum: 0, description: 'Accuracy drop allowed against the reference; default gate.accuracy_drop_max, else 0.005.' },
                time_budget_s: { type: 'number', exclusiveMinimum: 0, maximum: 86400, description: 'Search budget in seconds; default 120 for models up to 20 MB.' },
                latency_ratio_max: { type: 'number', exclusiveMinimum: 0, description: 'Largest p50 ratio against fp32 the winner may have; default 1.0 (not slower).' },
                recipes: {
                  type: 'array',
                  minItems: 1,
                  uniqueItems: true,
                  items: { enum: ['cleanup', 'dynamic', 'dynamic_weight_only', 'static', 'weight_only', 'dynamic_conv', 'fp16', 'lowrank', 'prune'] },
                  description: 'Recipe families to try; default: those that fit the model and the CPU.',
                },
              },
            },
          },
        },
        // ---- end auto ----
        else: {
          additionalProperties: false,
          required: ['name', 'passes'],
          properties: {
            name: candidateName,
            passes: {
              type: 'array',
              minItems: 1,
              items: { type: 'object', minProperties: 1, maxProperties: 1, additionalProperties: { type: ['object', 'null'] } },
            },
          },
        },
      },
    },
    benchmark: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        batch: { ...positiveInt, default: 1 },
        threads: { ...positiveInt, default: 1 },
        warmup: { type: 'integer', minimum: 0, default: 10 },
        runs: { ...positiveInt, default: 100 },
        measurements: { type: 'integer', minimum: 1, maximum: 9, default: 3, description: 'Independent interleaved measurements, fresh workers each; the median one decides the latency verdict.' },
      },
    },
    gate: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        accuracy_drop_max: { type: 'number', minimum: 0, description: 'Absolute accuracy drop allowed against the reference (0.005 = half a point).' },
        latency_ratio_max: { type: 'number', exclusiveMinimum: 0, description: 'p50 latency ratio allowed against the reference.' },
        size_bytes_max: { type: 'integer', minimum: 1, description: 'Largest model file allowed, in bytes.' },
      },
    },
    select: { enum: ['smallest-passing', 'fastest-passing', 'most-accurate-passing'], default: 'smallest-passing' },
  },
} as const;

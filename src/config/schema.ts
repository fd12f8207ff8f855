/**
 * The config's JSON Schema: the one definition of modelgate.yml. `npm run schema` writes it to
 * schema/modelgate.schema.json (editors use it for completion); a test keeps the two equal.
 * Pass options are validated by each pass's own schema (src/passes), not here.
 */
/*
 * Every number has a finite upper bound: a config may come from a pull request, and YAML can
 * write .inf, .nan and 1e308. (Non-finite values are refused by load.ts before the schema runs.)
 */
const positiveInt = { type: 'integer', minimum: 1 } as const;
/** Bounds on plain values: far beyond any real use, small enough that arithmetic stays exact. */
const VALUE_MAX = 1e9;
const boundedNumber = { type: 'number', minimum: -VALUE_MAX, maximum: VALUE_MAX } as const;
/** Most candidates a config may list: each is built, evaluated and measured in its own worker. */
export const MAX_CANDIDATES = 32;
const dtype = { description: "The input's element type; must match the model (a check, not a conversion).", enum: ['float32', 'float16', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool'] } as const;
const candidateName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'Candidate id: letters, digits, . _ -' } as const;
const numberOrList = { oneOf: [boundedNumber, { type: 'array', items: boundedNumber, minItems: 1, maxItems: 4096 }] } as const;
/** Where the schema is served from: editors fetch it through the `# yaml-language-server: $schema=` line. */
export const SCHEMA_URL = 'https://raw.githubusercontent.com/modelgate/modelgate/main/schema/modelgate.schema.json';

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
      classes: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: 100_000, uniqueItems: true, description: 'Class order of an image folder; default: sorted folder names.' },
      limit: { ...positiveInt, maximum: 1e9, description: 'Use only the first N samples.', examples: [1000] },
      preprocess: {
        type: 'object',
        description: 'Applied to every sample before it reaches the model: (x * scale - mean) / std.',
        additionalProperties: false,
        properties: {
          scale: { type: 'number', minimum: -1e9, maximum: 1e9, description: 'Multiplier applied first, e.g. 1/255 for uint8 images.', examples: [0.00392156862745098] },
          mean: { ...numberOrList, description: 'Subtracted after scaling: one number, or one per channel.', examples: [[0.485, 0.456, 0.406]] },
          std: { ...numberOrList, description: 'Divides after the mean: one number, or one per channel.', examples: [[0.229, 0.224, 0.225]] },
        },
      },
    },
  } as const;
}

export const configSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: SCHEMA_URL,
  title: 'ModelGate configuration (modelgate.yml)',
  description: 'What to optimize, how to measure it and which budgets gate it. Reference: README.md, "Configuration".',
  type: 'object',
  additionalProperties: false,
  required: ['model'],
  properties: {
    model: { type: 'string', minLength: 1, description: 'Path to the model (.onnx, .tflite, Keras .h5/.keras, or a TF.js model.json), relative to this file.', examples: ['model.onnx', 'models/classifier.h5'] },
    inputs: {
      type: 'object',
      description: 'Per model input: fixes dynamic dimensions, and drives synthetic data when there is no dataset.',
      examples: [{ input_ids: { shape: [1, 128], dtype: 'int64', range: [0, 30521] } }],
      additionalProperties: {
        type: 'object',
        description: 'One model input, by its name in the model.',
        additionalProperties: false,
        properties: {
          shape: {
            type: 'array', items: { type: 'integer', minimum: 0, maximum: 268435456 }, minItems: 0, maxItems: 8,
            description: "The input's dimensions. A symbolic batch dimension takes benchmark.batch; any other symbolic dimension must be given here, and may be 0 (an empty KV cache).",
            examples: [[1, 3, 224, 224]],
          },
          dtype,
          range: {
            type: 'array', items: boundedNumber, minItems: 2, maxItems: 2,
            description: 'Range [low, high] of synthetic values when there is no dataset; default [0, 1] for floats, [0, 9] for integers.',
            examples: [[0, 1], [0, 30521]],
          },
        },
      },
    },
    dataset: datasetSection('The labelled data candidates are evaluated on.'),
    calibration: datasetSection('The data that calibrating passes (static int8, TFLite int8) learn from; default: the dataset (the report then says that calibration and evaluation data overlap).'),
    metric: {
      enum: ['top1', 'top5', 'mse', 'mae', 'binary', 'f1_macro'], default: 'top1',
      description: 'Quality measure against the labels: top-1/top-5 accuracy, mse or mae for regression, binary accuracy, or macro F1.',
    },
    metric_options: {
      type: 'object',
      description: 'How the metric reads the model: which output, and for binary the threshold and activation.',
      additionalProperties: false,
      properties: {
        output: { type: 'string', minLength: 1, maxLength: 1024, description: 'The model output the metric reads; default: the first.' },
        threshold: { type: 'number', minimum: 0, maximum: 1, default: 0.5, description: 'binary: probability above which a sample is class 1.' },
        activation: { enum: ['sigmoid', 'softmax', 'none'], description: 'binary: how output values become the class-1 probability; default sigmoid for one value, softmax for two.' },
      },
    },
    // export step: src/import/export-command.ts
    export: {
      type: 'object',
      additionalProperties: false,
      required: ['run'],
      description: 'A command that writes the model before the pipeline runs (torch.onnx.export, tf2onnx, ...), run in this file\'s folder.',
      properties: {
        run: { type: 'string', minLength: 1, description: 'Shell command, e.g. "python export.py --out build/model.onnx".', examples: ['python export.py --out build/model.onnx'] },
        output: { type: 'string', minLength: 1, description: 'The file the command must write, relative to this file; default: model.', examples: ['build/model.onnx'] },
        timeout: { type: 'number', exclusiveMinimum: 0, maximum: 86400, default: 600, description: 'Seconds before the command is killed.' },
      },
    },
    tfjs_export: {
      type: 'object',
      additionalProperties: false,
      description: 'Write the (Keras or TF.js) source model as TF.js layers models for the web; each variant becomes a candidate run on TF.js, measured in the same run as the others.',
      properties: {
        quantize: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['none', 'uint8', 'uint16', 'float16'] }, default: ['uint8'], description: 'Weight storage of each variant.' },
        runs: { ...positiveInt, maximum: 100_000, default: 50, description: 'Timed predict() calls per variant.' },
      },
    },
    optimize: {
      type: 'array',
      default: [],
      description: 'The candidates to build from the model; each is measured against the reference (the model as it is).',
      maxItems: MAX_CANDIDATES,
      items: {
        type: 'object',
        description: 'A candidate: a named recipe of passes, or an auto entry that searches the recipe on the runner.',
        // an entry is either { name, passes } or { auto: {...}, name? } (the search: src/search/auto.ts)
        if: { required: ['auto'] },
        then: {
          additionalProperties: false,
          properties: {
            name: candidateName,
            auto: {
              type: ['object', 'null'],
              description: 'Search the recipe on the runner: among the models within the accuracy budget that are not slower than fp32, the lowest size × time (see prefer).',
              additionalProperties: false,
              properties: {
                accuracy_drop_max: { type: 'number', minimum: 0, maximum: VALUE_MAX, description: 'Accuracy drop allowed against the reference; default gate.accuracy_drop_max, else 0.005.', examples: [0.005] },
                time_budget_s: { type: 'number', exclusiveMinimum: 0, maximum: 86400, description: 'Search budget in seconds; default 120 for models up to 20 MB.', examples: [120] },
                latency_ratio_max: { type: 'number', exclusiveMinimum: 0, maximum: 1000, description: 'Largest p50 ratio against fp32 the winner may have; default 1.0 (not slower).', examples: [1.02] },
                prefer: {
                  enum: ['balanced', 'size', 'speed'],
                  description: "How the winner is chosen among the candidates that qualify: 'balanced' (default) the lowest size × time (size ratio times p50 ratio against fp32; scores within 5% count as equal and the smaller file wins), 'size' the smallest (sizes within 10% count as equal and the fastest wins), 'speed' the fastest (ratios within 5% count as equal and the smaller file wins).",
                  examples: ['balanced'],
                },
                recipes: {
                  type: 'array',
                  minItems: 1,
                  uniqueItems: true,
                  items: { enum: ['cleanup', 'dynamic', 'dynamic_weight_only', 'static', 'weight_only', 'dynamic_conv', 'fp16', 'lowrank', 'prune', 'int4_weight_only', 'int8_weight_only', 'fp32', 'tflite_weight_only', 'tflite_fp16', 'tflite_dynamic_int8', 'tflite_int8'] },
                  description: 'Recipe families to try; default: those that fit the model and the CPU.',
                },
                allow: {
                  type: 'array',
                  uniqueItems: true,
                  items: { enum: ['prune', 'lowrank'] },
                  description: 'Families that change the function which the search may propose, with accuracy recovery on calibration samples (prune: 50% of the channels; lowrank: the rank that keeps 95% of the weight energy).',
                },
              },
            },
          },
        },
        else: {
          additionalProperties: false,
          required: ['name', 'passes'],
          properties: {
            name: candidateName,
            passes: {
              type: 'array',
              minItems: 1,
              description: 'Passes run in order, each a single-key mapping { <pass>: { options } }: cleanup, ort_optimize, quantize, weight_only, fp16, prune, lowrank; a tflite step may come last.',
              examples: [[{ quantize: { mode: 'dynamic' } }], [{ cleanup: {} }, { tflite: { quantize: 'float16' } }]],
              maxItems: 64,
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
      description: 'How latency is measured: every candidate in its own worker process, interleaved with the reference.',
      properties: {
        batch: { ...positiveInt, maximum: 4096, default: 1, description: 'Batch size of each timed run (a dynamic batch dimension takes it).' },
        threads: { ...positiveInt, maximum: 256, default: 1, description: 'Intra-op threads of each session (1 keeps runs on a shared runner comparable).' },
        warmup: { type: 'integer', minimum: 0, maximum: 100_000, default: 10, description: 'Untimed runs per candidate before timing.' },
        runs: { ...positiveInt, maximum: 1_000_000, default: 100, description: 'Timed runs per candidate and measurement.' },
        measurements: { type: 'integer', minimum: 1, maximum: 9, default: 3, description: 'Independent interleaved measurements, fresh workers each; the median one decides the latency verdict. With two or more, the reference is also timed in a second worker (an A/A control) and the CI includes the spread it shows.' },
        decoder: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'Decoder models (input_ids, past_key_values.N.key/value, logits): how their latency is measured.',
          properties: {
            prefill_tokens: { ...positiveInt, default: 128, description: 'Prompt tokens of the time-to-first-token measurement, and the KV-cache length of the per-token decode measurement.' },
          },
        },
      },
    },
    gate: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Budgets every candidate must meet against the reference (the unoptimized model).',
      properties: {
        accuracy_drop_max: { type: 'number', minimum: 0, maximum: VALUE_MAX, description: 'Absolute accuracy drop allowed against the reference (0.005 = half a point).', examples: [0.005] },
        latency_ratio_max: { type: 'number', exclusiveMinimum: 0, maximum: 1000, description: 'p50 latency ratio allowed against the reference; fails only when the whole 95% bootstrap confidence interval of the ratio lies above it. Without it, latency is reported with a 1.05 verdict threshold.', examples: [1.05] },
        size_bytes_max: { type: 'integer', minimum: 1, maximum: 2 ** 40, description: 'Largest model file allowed, in bytes.', examples: [5000000] },
        fidelity_min_snr_db: { type: 'number', minimum: -1000, maximum: 1000, description: 'Least SNR in dB of the worst output against the reference (a discrete output judged through its decision inputs, the continuous tensors it turns discrete from), the quality check when there are no labels and top-1 agreement does not fit the output (a single value, a dense map); default 20.' },
        ttft_ratio_max: { type: 'number', exclusiveMinimum: 0, maximum: 1000, description: 'Decoders: time-to-first-token ratio allowed against the reference; fails only when the whole 95% CI is above it. Default: latency_ratio_max.' },
        decode_ratio_max: { type: 'number', exclusiveMinimum: 0, maximum: 1000, description: 'Decoders: per-token decode latency ratio allowed against the reference; fails only when the whole 95% CI is above it. Default: latency_ratio_max.' },
      },
    },
    select: { enum: ['smallest-passing', 'fastest-passing', 'most-accurate-passing'], default: 'smallest-passing', description: 'Which passing candidate the gate selects.' },
  },
} as const;

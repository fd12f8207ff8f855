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
const dtype = { enum: ['float32', 'float16', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool'] } as const;
const candidateName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'Candidate id: letters, digits, . _ -' } as const;
const numberOrList = { oneOf: [boundedNumber, { type: 'array', items: boundedNumber, minItems: 1, maxItems: 4096 }] } as const;

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
          shape: { type: 'array', items: { ...positiveInt, maximum: 1_000_000 }, minItems: 0, maxItems: 8 },
          dtype,
          range: { type: 'array', items: boundedNumber, minItems: 2, maxItems: 2 },
        },
      },
    },
    dataset: {
      type: 'object',
      additionalProperties: false,
      required: ['inputs'],
      properties: {
        inputs: { type: 'string', minLength: 1, description: '.npy or IDX (.idx3-ubyte, optionally .gz)' },
        labels: { type: 'string', minLength: 1, description: '.npy or IDX (.idx1-ubyte, optionally .gz)' },
        limit: { ...positiveInt, maximum: 100_000_000 },
        preprocess: {
          type: 'object',
          additionalProperties: false,
          properties: { scale: boundedNumber, mean: numberOrList, std: numberOrList },
        },
      },
    },
    metric: { enum: ['top1', 'top5', 'mse'], default: 'top1' },
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
        runs: { ...positiveInt, maximum: 100_000, default: 50, description: 'Timed predict() calls per variant.' },
      },
    },
    // ---- end export ----
    optimize: {
      type: 'array',
      default: [],
      maxItems: MAX_CANDIDATES,
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
                accuracy_drop_max: { type: 'number', minimum: 0, maximum: VALUE_MAX, description: 'Accuracy drop allowed against the reference; default gate.accuracy_drop_max, else 0.005.' },
                time_budget_s: { type: 'number', exclusiveMinimum: 0, maximum: 86400, description: 'Search budget in seconds; default 120 for models up to 20 MB.' },
                latency_ratio_max: { type: 'number', exclusiveMinimum: 0, maximum: 1000, description: 'Largest p50 ratio against fp32 the winner may have; default 1.0 (not slower).' },
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
      properties: {
        batch: { ...positiveInt, maximum: 4096, default: 1 },
        threads: { ...positiveInt, maximum: 256, default: 1 },
        warmup: { type: 'integer', minimum: 0, maximum: 100_000, default: 10 },
        runs: { ...positiveInt, maximum: 1_000_000, default: 100 },
        measurements: { type: 'integer', minimum: 1, maximum: 9, default: 3, description: 'Independent interleaved measurements, fresh workers each; the median one decides the latency verdict.' },
      },
    },
    gate: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        accuracy_drop_max: { type: 'number', minimum: 0, maximum: VALUE_MAX, description: 'Absolute accuracy drop allowed against the reference (0.005 = half a point).' },
        latency_ratio_max: { type: 'number', exclusiveMinimum: 0, maximum: 1000, description: 'p50 latency ratio allowed against the reference.' },
        size_bytes_max: { type: 'integer', minimum: 1, maximum: 2 ** 40, description: 'Largest model file allowed, in bytes.' },
      },
    },
    select: { enum: ['smallest-passing', 'fastest-passing', 'most-accurate-passing'], default: 'smallest-passing' },
  },
} as const;

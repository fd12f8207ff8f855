import * as ort from 'onnxruntime-node';
const [cand, out] = [process.argv[2]!, process.argv[3]!];
await ort.InferenceSession.create(cand, { intraOpNumThreads: 1, optimizedModelFilePath: out, extra: { session: { disable_quant_qdq: '1' } } } as any);
console.log('wrote', out);

import { describe, expect, it } from 'vitest';
import { loadTfjs } from '../../src/runtime/tfjs.js';
import { ModelGateError } from '../../src/errors.js';

describe('loadTfjs', () => {
  it('takes tfjs-node when it loads, else the wasm backend, names the runtime, and stays on it', async () => {
    let nodeInstalled = true;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      nodeInstalled = false;
    }
    const rt = await loadTfjs('auto');
    expect(rt.backend).toBe(nodeInstalled ? 'tensorflow' : 'wasm');
    expect(rt.tf.getBackend()).toBe(rt.backend);
    expect(rt.label).toBe(`tfjs ${rt.version} (${rt.backend})`);
    expect(await loadTfjs('auto')).toBe(rt);
    // TF.js has one engine per process: a different backend later is refused, not silently ignored.
    await expect(loadTfjs('cpu')).rejects.toThrow(ModelGateError);
    await expect(loadTfjs('cpu')).rejects.toThrow(/already runs on the (wasm|tensorflow) backend/);
    await expect(loadTfjs('gpu' as never)).rejects.toThrow(/not one of auto, tensorflow, wasm, cpu/);
  });
});

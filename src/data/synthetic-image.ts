/**
 * Image-like synthetic inputs. Without a dataset, an input shaped like a batch of images gets seeded
 * pictures instead of white noise: what static int8 calibrates on and what fidelity is judged on should
 * look like what the model will see.
 *
 * What a picture is made of: natural images have an amplitude spectrum falling roughly as 1/f (Field 1987,
 * "Relations between the statistics of natural images and the response properties of cortical cells",
 * JOSA A 4(12); van der Schaaf & van Hateren 1996, Vision Research 36(17)), and much of that comes from
 * occlusion: opaque objects with sharp edges over one another. The "dead leaves" model (Lee, Mumford & Huang
 * 2001, "Occlusion models for natural images", IJCV 41) reproduces it with flat shapes whose sizes follow a
 * power law. Each sample here is such a stack of rectangles and ellipses over a smooth illumination
 * gradient, plus fractal (1/f) value noise for texture; colours are correlated across channels (a shared
 * luminance plus a smaller per-channel tint), as in real RGB.
 */
import { batchAxisOf, sampleShape, type IoSpec } from '../model/io.js';
import { seededRandom } from './random.js';

export type ImageLayoutName = 'NCHW' | 'NHWC';

export interface ImageInput {
  layout: ImageLayoutName;
  channels: number;
  height: number;
  width: number;
  /** The value range fed: [0, 255] for integer inputs, else the config's, the model's preprocessing's, or [0, 1]. */
  range: [number, number];
  /** Where the range comes from. */
  rangeFrom: 'config' | 'model' | 'dtype' | 'default';
  /** For rangeFrom 'model': what in the graph implies it. */
  why?: string;
}

/** Smallest height and width read as an image: feature maps and states are often 1–8 wide. */
export const MIN_IMAGE_SIDE = 16;
const isChannels = (d: number | undefined): boolean => d === 1 || d === 3 || d === 4;
// Recurrent state, caches and masks keep their own defaults (src/data/dataset.ts) even when image-shaped.
const NOT_IMAGE_NAME = /state|past|present|cache|mask|hidden/i;

/**
 * The image reading of a rank-4 input whose samples sit on axis 0: channels (1, 3 or 4) on axis 1 (NCHW)
 * or axis 3 (NHWC), both other dims at least 16. When both readings fit ([1, 3, 32, 3]) NCHW wins, as ONNX
 * writes it. Null for anything else (rank 3 is not read: [N, T, F] sequences share its shape).
 */
export function imageLayoutOf(spec: Pick<IoSpec, 'name' | 'shape' | 'dtype' | 'batchAxis' | 'dynamicBatch'>): Pick<ImageInput, 'layout' | 'channels' | 'height' | 'width'> | null {
  const s = spec.shape;
  if (s.length !== 4 || spec.dtype === 'bool' || NOT_IMAGE_NAME.test(spec.name)) return null;
  if (batchAxisOf(spec as IoSpec) !== 0) return null;
  const big = (a: number, b: number) => s[a]! >= MIN_IMAGE_SIDE && s[b]! >= MIN_IMAGE_SIDE;
  if (isChannels(s[1]) && big(2, 3)) return { layout: 'NCHW', channels: s[1]!, height: s[2]!, width: s[3]! };
  if (isChannels(s[3]) && big(1, 2)) return { layout: 'NHWC', channels: s[3]!, height: s[1]!, width: s[2]! };
  return null;
}

const isIntDtype = (dtype: IoSpec['dtype']) => !dtype.startsWith('float');

/** How an input is synthesized as images, or null when it is not image-shaped. */
export function imageInputOf(spec: IoSpec): ImageInput | null {
  const layout = imageLayoutOf(spec);
  if (!layout) return null;
  if (spec.range) return { ...layout, range: spec.range, rangeFrom: 'config' };
  if (isIntDtype(spec.dtype)) return { ...layout, range: [0, 255], rangeFrom: 'dtype' };
  if (spec.impliedRange) return { ...layout, range: spec.impliedRange.range, rangeFrom: 'model', why: spec.impliedRange.why };
  return { ...layout, range: [0, 1], rangeFrom: 'default' };
}

/** Bilinear value noise: a (g+1)×(g+1) grid of random values, sampled at every pixel, added with weight `amp`. */
function addValueNoise(out: Float64Array, h: number, w: number, g: number, amp: number, rand: () => number): void {
  const grid = new Float64Array((g + 1) * (g + 1));
  for (let i = 0; i < grid.length; i++) grid[i] = rand() * 2 - 1;
  for (let y = 0; y < h; y++) {
    const fy = (y / h) * g;
    const y0 = Math.floor(fy), ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = (x / w) * g;
      const x0 = Math.floor(fx), tx = fx - x0;
      const a = grid[y0 * (g + 1) + x0]!, b = grid[y0 * (g + 1) + x0 + 1]!;
      const c = grid[(y0 + 1) * (g + 1) + x0]!, d = grid[(y0 + 1) * (g + 1) + x0 + 1]!;
      out[y * w + x]! += amp * ((a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty);
    }
  }
}

/**
 * Fractal noise with a 1/f amplitude spectrum: octaves of value noise whose grid doubles each time while
 * the amplitude halves (amplitude ∝ wavelength). Returns values of roughly unit spread around 0.
 */
function fractalNoise(h: number, w: number, rand: () => number): Float64Array {
  const out = new Float64Array(h * w);
  const top = Math.max(h, w) / 2;
  let amp = 0.5;
  for (let g = 2; g <= top; g *= 2, amp /= 2) addValueNoise(out, h, w, g, amp, rand);
  return out;
}

/** One picture, H×W×C values in [0, 1] (pixel-major, channels last). */
function picture(h: number, w: number, c: number, rand: () => number): Float64Array {
  const img = new Float64Array(h * w * c);
  const color = (): number[] => {
    const lum = rand();
    return Array.from({ length: c }, () => Math.min(1, Math.max(0, lum + (rand() - 0.5) * 0.5)));
  };
  // Illumination: a linear gradient between two colours in a random direction.
  const c0 = color(), c1 = color();
  const angle = rand() * 2 * Math.PI;
  const dx = Math.cos(angle), dy = Math.sin(angle);
  const norm = Math.abs(dx) * w + Math.abs(dy) * h;
  const offset = (dx < 0 ? -dx * w : 0) + (dy < 0 ? -dy * h : 0);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const t = (dx * x + dy * y + offset) / norm;
      for (let k = 0; k < c; k++) img[(y * w + x) * c + k] = c0[k]! * (1 - t) + c1[k]! * t;
    }
  }
  // Dead leaves: shapes painted back to front, sizes from a power law (many small, few large).
  const side = Math.min(h, w);
  const leaves = 12 + Math.floor(rand() * 24);
  for (let l = 0; l < leaves; l++) {
    const size = Math.max(2, side * 0.6 * Math.pow(0.05 + 0.95 * rand(), 2));
    const ry = size * (0.5 + rand()) / 2, rx = size * (0.5 + rand()) / 2;
    const cy = rand() * h, cx = rand() * w;
    const col = color();
    const ellipse = rand() < 0.5;
    const y0 = Math.max(0, Math.floor(cy - ry)), y1 = Math.min(h - 1, Math.ceil(cy + ry));
    const x0 = Math.max(0, Math.floor(cx - rx)), x1 = Math.min(w - 1, Math.ceil(cx + rx));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        if (ellipse) {
          const u = (x - cx) / rx, v = (y - cy) / ry;
          if (u * u + v * v > 1) continue;
        }
        for (let k = 0; k < c; k++) img[(y * w + x) * c + k] = col[k]!;
      }
    }
  }
  // Texture: 1/f noise, mostly shared by the channels (luminance), a little per channel.
  const shared = fractalNoise(h, w, rand);
  const own = Array.from({ length: c }, () => fractalNoise(h, w, rand));
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < c; k++) {
      const v = img[p * c + k]! + 0.25 * shared[p]! + 0.08 * own[k]![p]!;
      img[p * c + k] = Math.min(1, Math.max(0, v));
    }
  }
  return img;
}

/**
 * `n` samples of an image input, in sample order and each in its sample's C order (as
 * src/data/dataset.ts lays them out). Seeded: the same seed gives the same values.
 */
export function synthesizeImages(spec: IoSpec, image: ImageInput, n: number, seed: number): Float64Array {
  const { channels: c, height: h, width: w } = image;
  const per = sampleShape(spec).reduce((a, b) => a * b, 1);
  const out = new Float64Array(n * per);
  const [lo, hi] = image.range;
  const isInt = isIntDtype(spec.dtype);
  for (let s = 0; s < n; s++) {
    const rand = seededRandom((seed + Math.imul(s, 0x9e3779b1)) >>> 0);
    const img = picture(h, w, c, rand);
    const base = s * per;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let k = 0; k < c; k++) {
          const u = img[(y * w + x) * c + k]!;
          const v = isInt ? Math.round(lo + u * (hi - lo)) : lo + u * (hi - lo);
          const at = image.layout === 'NHWC' ? (y * w + x) * c + k : (k * h + y) * w + x;
          out[base + at] = v;
        }
      }
    }
  }
  return out;
}

/** What report.json says about the image inputs of a synthetic dataset (`dataset.synthetic_images`). */
export function describeSyntheticImages(inputs: IoSpec[]): Array<{ input: string; layout: ImageLayoutName; range: [number, number]; range_from: ImageInput['rangeFrom']; why?: string }> {
  return inputs.flatMap((spec) => {
    const image = batchAxisOf(spec) !== null ? imageInputOf(spec) : null;
    return image ? [{ input: spec.name, layout: image.layout, range: image.range, range_from: image.rangeFrom, ...(image.why ? { why: image.why } : {}) }] : [];
  });
}

/**
 * clusters.model.h5: the fitted clusterings (transform + centroids), written once by the fit
 * step and read by every assignment shard, so all shards use exactly the same centroids.
 *
 *   attributes: format = 'avcurate.clusters-model', version = 1, fingerprint, seed, d
 *   /clusterings/<d>  attributes modality, layer, k, dim (input width), centroidDim, l2 (0/1),
 *                     inertia (on the fitting sample), iterations, fitPoints
 *       centroids     float32 [k, centroidDim]
 *       history       float64 [T] inertia at each assignment of the fit
 *       pca_mean      float32 [dim]                 (only when whitened)
 *       pca_W         float32 [dim, centroidDim]
 *       pca_bias      float32 [centroidDim]
 *       pca_eigenvalues float64 [centroidDim]
 *       std_mean, std_scale float32 [dim]       (joint clusterings: per-column standardisation,
 *                                                  applied first; attribute parts = layers, comma-joined)
 */
import { produceFileAtomic } from '../../runtime/atomic.js';
import { loadH5, hasHdf5Signature, writeClusteringAttrs, type Modality } from './store.js';
import type { FeatureTransform } from './preprocess.js';
import { existsSync } from 'node:fs';

export const MODEL_FORMAT = 'avcurate.clusters-model';

export interface FittedClustering {
  modality: Modality;
  layer: string;
  k: number;
  /** Width of the input features. */
  dim: number;
  transform: FeatureTransform;
  /** Width of the centroids (dim, or the PCA output width). */
  centroidDim: number;
  /** float32 [k, centroidDim]. */
  centroids: Float32Array;
  /** Inertia on the fitting sample. */
  inertia: number;
  iterations: number;
  fitPoints: number;
  history: number[];
  /** A joint clustering (clustering.joint): the modality's layers it concatenates, in order. */
  parts?: string[];
}

export interface ClusterModel {
  fingerprint: string;
  seed: number;
  clusterings: FittedClustering[];
}

export async function writeClusterModel(path: string, m: ClusterModel): Promise<void> {
  const h5 = await loadH5();
  await produceFileAtomic(path, (tmp) => {
    const f = new h5.File(tmp, 'w');
    try {
      f.create_attribute('format', MODEL_FORMAT);
      f.create_attribute('version', 1, null, '<i');
      f.create_attribute('fingerprint', m.fingerprint);
      f.create_attribute('seed', m.seed, null, '<i8');
      f.create_attribute('d', m.clusterings.length, null, '<i');
      const g = f.create_group('clusterings');
      m.clusterings.forEach((c, j) => {
        const cg = g.create_group(String(j));
        writeClusteringAttrs(cg, c);
        cg.create_attribute('centroidDim', c.centroidDim, null, '<i');
        cg.create_attribute('l2', c.transform.l2 ? 1 : 0, null, '<i');
        cg.create_attribute('fitPoints', c.fitPoints, null, '<i8');
        cg.create_dataset({ name: 'centroids', data: c.centroids, shape: [c.k, c.centroidDim], dtype: '<f' });
        cg.create_dataset({ name: 'history', data: Float64Array.from(c.history.length ? c.history : [c.inertia]), dtype: '<d' });
        if (c.parts) cg.create_attribute('parts', c.parts.join(','));
        const st = c.transform.standardise;
        if (st) {
          cg.create_dataset({ name: 'std_mean', data: st.mean, shape: [c.dim], dtype: '<f' });
          cg.create_dataset({ name: 'std_scale', data: st.scale, shape: [c.dim], dtype: '<f' });
        }
        const p = c.transform.pca;
        if (p) {
          cg.create_dataset({ name: 'pca_mean', data: p.mean, shape: [p.dimIn], dtype: '<f' });
          cg.create_dataset({ name: 'pca_W', data: p.W, shape: [p.dimIn, p.dimOut], dtype: '<f' });
          cg.create_dataset({ name: 'pca_bias', data: p.bias, shape: [p.dimOut], dtype: '<f' });
          cg.create_dataset({ name: 'pca_eigenvalues', data: p.eigenvalues, shape: [p.dimOut], dtype: '<d' });
        }
      });
    } finally {
      f.close();
    }
  });
}

function num(v: unknown): number {
  if (ArrayBuffer.isView(v) || Array.isArray(v)) v = (v as unknown as ArrayLike<unknown>)[0];
  return typeof v === 'bigint' ? Number(v) : Number(v);
}

function str(v: unknown): string {
  if (Array.isArray(v)) v = v[0];
  return String(v);
}

/** Read a model; null when the file does not exist. Errors name the file. */
export async function readClusterModel(path: string): Promise<ClusterModel | null> {
  if (!existsSync(path)) return null;
  if (!hasHdf5Signature(path)) throw new Error(`${path}: not an HDF5 file (delete it to refit)`);
  const h5 = await loadH5();
  const f = new h5.File(path, 'r');
  try {
    const attr = (o: { attrs: Record<string, { value: unknown }> }, name: string, where: string) => {
      const a = o.attrs[name];
      if (!a) throw new Error(`${where}: missing attribute '${name}' (delete the model to refit)`);
      return a.value;
    };
    if (str(attr(f, 'format', path)) !== MODEL_FORMAT) throw new Error(`${path}: not a clusters model file`);
    const d = num(attr(f, 'd', path));
    const clusterings: FittedClustering[] = [];
    for (let j = 0; j < d; j++) {
      const where = `${path}: clusterings/${j}`;
      const g = f.get(`clusterings/${j}`) as InstanceType<typeof h5.Group> | null;
      if (!g) throw new Error(`${where}: missing`);
      const ds = (name: string) => {
        const x = g.get(name) as InstanceType<typeof h5.Dataset> | null;
        return x ? x.value : null;
      };
      const k = num(attr(g, 'k', where));
      const dim = num(attr(g, 'dim', where));
      const centroidDim = num(attr(g, 'centroidDim', where));
      const centroids = ds('centroids');
      if (!(centroids instanceof Float32Array) || centroids.length !== k * centroidDim) throw new Error(`${where}: centroids is not float32 [${k}, ${centroidDim}]`);
      const mean = ds('pca_mean');
      const stdMean = ds('std_mean');
      const stdScale = ds('std_scale');
      if ((stdMean === null) !== (stdScale === null)) throw new Error(`${where}: has only one of std_mean and std_scale (delete the model to refit)`);
      if (stdMean !== null && (!(stdMean instanceof Float32Array) || !(stdScale instanceof Float32Array) || stdMean.length !== dim || stdScale.length !== dim)) {
        throw new Error(`${where}: std_mean and std_scale are not float32 [${dim}] (delete the model to refit)`);
      }
      const transform: FeatureTransform = {
        standardise: stdMean ? { mean: new Float32Array(stdMean as Float32Array), scale: new Float32Array(stdScale as Float32Array) } : null,
        l2: num(attr(g, 'l2', where)) === 1,
        pca:
          mean instanceof Float32Array
            ? {
                dimIn: dim,
                dimOut: centroidDim,
                mean,
                W: ds('pca_W') as Float32Array,
                bias: ds('pca_bias') as Float32Array,
                eigenvalues: Float64Array.from(ds('pca_eigenvalues') as ArrayLike<number>),
              }
            : null,
      };
      const hist = ds('history');
      const modality = str(attr(g, 'modality', where));
      if (modality !== 'audio' && modality !== 'visual') throw new Error(`${where}: modality '${modality}'`);
      clusterings.push({
        modality,
        layer: str(attr(g, 'layer', where)),
        k,
        dim,
        transform,
        centroidDim,
        centroids: new Float32Array(centroids),
        inertia: num(attr(g, 'inertia', where)),
        iterations: num(attr(g, 'iterations', where)),
        fitPoints: num(attr(g, 'fitPoints', where)),
        history: hist ? Array.from(hist as ArrayLike<number>) : [],
        ...(g.attrs['parts'] ? { parts: str(g.attrs['parts'].value).split(',') } : {}),
      });
    }
    return { fingerprint: str(attr(f, 'fingerprint', path)), seed: num(attr(f, 'seed', path)), clusterings };
  } finally {
    f.close();
  }
}

/**
 * The schema's defaults as values, for library code whose caller gave no value (tests, benchmarks,
 * programmatic use without a config). Every value here is read from the zod schemas, never written
 * out: the config is the only source of defaults (test/config/defaults.test.ts fails on code that
 * restates one). Frozen copies, so no caller can change a default for everyone.
 */
import type { z } from 'zod';
import { ConfigSchema, type Config } from './schema.js';
import { SynthSchema, type SynthConfig } from './sections/corpus.js';
import { BuiltinSchema, MobileNetSchema, OnnxOutputSchema, OnnxSchema } from './sections/features.js';

/** A frozen deep copy (zod hands out its `.default()` objects by reference: freezing them in place would freeze parts of every parsed config). */
function frozenCopy<T>(v: T): T {
  return deepFreeze(structuredClone(v));
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
}

type Def = { type: string; defaultValue?: unknown };
type Shape = Record<string, z.ZodType>;
/** The keys of an object schema that have a default, with their parsed value type. */
export type DefaultsOf<S extends Shape> = { readonly [K in keyof S as S[K] extends z.ZodDefault<z.ZodType> ? K : never]: z.output<S[K]> };

/**
 * The defaults of an object schema's keys (only the keys that have one; required keys without a
 * default are left out, so a schema with required keys still gives its defaults).
 */
export function defaultsOf<S extends Shape>(schema: z.ZodObject<S>): DefaultsOf<S> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema.shape)) {
    const d = (v as unknown as { def: Def }).def;
    if (d.type === 'default') out[k] = (v as z.ZodType).parse(undefined);
  }
  return frozenCopy(out) as DefaultsOf<S>;
}

/** The whole config as `{}` parses (every section with its defaults; `corpus` empty). */
export const CONFIG_DEFAULTS: Config = frozenCopy(ConfigSchema.parse({}));
/** `corpus.synth` as `synth: {}` parses. */
export const SYNTH_DEFAULTS: SynthConfig = frozenCopy(SynthSchema.parse({}));
/** An `onnx` extractor's keys with a default (features.audio[] / features.visual[] of type onnx). */
export const ONNX_EXTRACTOR_DEFAULTS = defaultsOf(OnnxSchema);
/** One output of an `onnx` extractor (features.*[].outputs[]). */
export const ONNX_OUTPUT_DEFAULTS = defaultsOf(OnnxOutputSchema);
/** A `builtin` extractor (features.audio[] / features.visual[]). */
export const BUILTIN_DEFAULTS = defaultsOf(BuiltinSchema);
/** A `mobilenet-nsfwjs` extractor (features.visual[]). */
export const MOBILENET_DEFAULTS = defaultsOf(MobileNetSchema);

/** What the source-scanning tests share: the .ts files under a folder, and a zod schema's definition. */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';

/** Every .ts file under `dir`, depth first. */
export function listTs(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) listTs(full, out);
    else if (name.endsWith('.ts')) out.push(full);
  }
  return out;
}

/** The parts of a zod (v4) schema's definition the schema walkers read. */
export type ZodDef = {
  type: string;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  in?: z.ZodType;
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  valueType?: z.ZodType;
  defaultValue?: unknown;
};
export const defOf = (s: z.ZodType): ZodDef => (s as unknown as { def: ZodDef }).def;

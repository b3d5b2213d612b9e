#!/usr/bin/env node
// Launcher: runs the TypeScript CLI through tsx's loader, so the installed package and a
// checkout behave the same without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

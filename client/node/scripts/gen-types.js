#!/usr/bin/env node
'use strict';
/*
 * Writes lib/index.d.ts (TypeScript declarations) from clm.proto:
 *   node scripts/gen-types.js          # rewrite it
 *   node scripts/gen-types.js --check  # exit 1 if it is out of date
 * The client itself loads clm.proto at run time; this only keeps the
 * declarations in step with it.
 */
const fs = require('fs');
const path = require('path');
const { root, protobuf } = require('../lib/proto');

const OUT = path.join(__dirname, '..', 'lib', 'index.d.ts');
const pkg = root.lookup('clm.v1');

const SCALAR_OUT = {
  double: 'number', float: 'number', int32: 'number', uint32: 'number', sint32: 'number',
  fixed32: 'number', sfixed32: 'number', int64: 'number', uint64: 'number', sint64: 'number',
  fixed64: 'number', sfixed64: 'number', bool: 'boolean', string: 'string', bytes: 'Uint8Array',
};
const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function outType(f) {
  const rt = f.resolvedType;
  let t;
  if (rt instanceof protobuf.Enum) t = rt.name;
  else if (rt instanceof protobuf.Type) t = rt.name;
  else t = SCALAR_OUT[f.type];
  if (f.map) return `{ [key: string]: ${t} }`;
  if (f.repeated) return `${t}[]`;
  if (rt instanceof protobuf.Type) return `${t} | null`;
  return t;
}

function inType(f) {
  const rt = f.resolvedType;
  let t;
  if (rt instanceof protobuf.Enum) t = `${rt.name} | number`;
  else if (rt instanceof protobuf.Type) t = `${rt.name}Input`;
  else if (INT64.has(f.type)) t = 'number | bigint | string | Date';
  else t = SCALAR_OUT[f.type];
  if (f.map) return `{ [key: string]: ${t} } | Map<string, ${t}>`;
  if (f.repeated) return `Array<${t}>`;
  return t;
}

function comment(text, indent = '') {
  if (!text) return '';
  return `${indent}/** ${text.replace(/\s+/g, ' ').trim()} */\n`;
}

let out = '';
out += '// Generated from proto/clm/v1/clm.proto by scripts/gen-types.js: do not edit.\n';
out += '// Replies use these types with enums as names (the default, enums: \'name\');\n';
out += '// with enums: \'number\' every enum field holds its number instead. Inputs\n';
out += '// (the *Input types) take the camelCase names below; at run time the .proto\n';
out += '// (snake_case) names work too.\n\n';

const enums = [];
const types = [];
for (const obj of pkg.nestedArray) {
  if (obj instanceof protobuf.Enum) enums.push(obj);
  else if (obj instanceof protobuf.Type) types.push(obj);
}

for (const en of enums) {
  out += `export type ${en.name} =\n`;
  out += Object.keys(en.values).map((k) => `  | '${k}'`).join('\n') + ';\n';
  out += `export declare const ${en.name}: Readonly<Record<${en.name}, number>> & { readonly [number: number]: string };\n\n`;
}

for (const t of types) {
  out += `export interface ${t.name} {\n`;
  for (const f of t.fieldsArray) out += comment(f.comment, '  ') + `  ${f.name}: ${outType(f)};\n`;
  for (const o of t.oneofsArray) out += `  /** Which field of oneof ${o.name} is set. */\n  ${o.name}?: ${o.fieldsArray.map((f) => `'${f.name}'`).join(' | ')};\n`;
  out += '}\n';
  out += `export interface ${t.name}Input {\n`;
  for (const f of t.fieldsArray) out += `  ${f.name}?: ${inType(f)} | null;\n`;
  out += '}\n\n';
}

out += fs.readFileSync(path.join(__dirname, 'index.d.ts.in'), 'utf8');

if (process.argv.includes('--check')) {
  const have = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '';
  if (have !== out) {
    console.error(`${OUT} is out of date with clm.proto: run node scripts/gen-types.js`);
    process.exit(1);
  }
} else {
  fs.writeFileSync(OUT, out);
}

'use strict';
/*
 * clm.proto, loaded at run time with protobufjs (no generated code), and the
 * conversions between plain JavaScript objects and its messages.
 *
 * Input objects may name fields in camelCase (occurredAtMs, as in proto3
 * JSON) or as in the .proto (occurred_at_ms); enums by name ('PURCHASE') or
 * number (13); int64 fields take numbers, bigints, decimal strings or Dates.
 * A field the message does not have, or an enum name it does not know, is a
 * TypeError before anything is sent. Output objects use camelCase, every
 * field present (proto3 defaults filled in, message fields null when
 * unset), int64 as numbers and enums as names (or numbers, on request).
 */
const fs = require('fs');
const path = require('path');
const protobuf = require('protobufjs');

/*
 * Where clm.proto is: $CLM_PROTO; else the copy `npm pack` puts in the
 * package (proto/clm/v1/clm.proto, see package.json's prepack); else the
 * clm source tree this package sits in (client/node -> ../../proto/...).
 */
function protoPath() {
  if (process.env.CLM_PROTO) return path.resolve(process.env.CLM_PROTO);
  const packed = path.resolve(__dirname, '..', 'proto', 'clm', 'v1', 'clm.proto');
  if (fs.existsSync(packed)) return packed;
  return path.resolve(__dirname, '..', '..', '..', 'proto', 'clm', 'v1', 'clm.proto');
}

function load(file = protoPath()) {
  if (!fs.existsSync(file)) {
    throw new Error(
      `cannot find clm.proto at '${file}': clm-client reads it from the clm ` +
        'source tree (proto/clm/v1/clm.proto); set CLM_PROTO to its path'
    );
  }
  const root = protobuf.loadSync(file);
  root.resolveAll();
  return root;
}

const root = load();
const pkg = 'clm.v1.';
const type = (name) => root.lookupType(pkg + name);
const enumType = (name) => root.lookupEnum(pkg + name);

const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const INT32 = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32 = new Set(['uint32', 'fixed32']);

function fail(where, what) {
  throw new TypeError(`${where}: ${what}`);
}

function enumValue(en, v, where) {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) fail(where, `${en.name} must be a name or an integer, not ${v}`);
    return v;
  }
  if (typeof v === 'string') {
    if (Object.prototype.hasOwnProperty.call(en.values, v)) return en.values[v];
    const up = v.toUpperCase();
    if (Object.prototype.hasOwnProperty.call(en.values, up)) return en.values[up];
    if (/^-?\d+$/.test(v)) return Number(v);
    fail(where, `unknown ${en.name} '${v}' (one of ${Object.keys(en.values).join(', ')})`);
  }
  return fail(where, `${en.name} must be a name or a number, not ${typeof v}`);
}

function scalarValue(field, v, where) {
  const t = field.type;
  if (INT64.has(t)) {
    if (v instanceof Date) v = v.getTime();
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'string' && /^-?\d+$/.test(v)) return v;
    if (typeof v === 'object' && v !== null && 'low' in v && 'high' in v) return v; // Long
    if (typeof v !== 'number' || !Number.isInteger(v)) fail(where, `${t} must be an integer, not ${v}`);
    if (t[0] === 'u' && v < 0) fail(where, `${t} must not be negative (${v})`);
    return v;
  }
  if (INT32.has(t) || UINT32.has(t)) {
    if (typeof v !== 'number' || !Number.isInteger(v)) fail(where, `${t} must be an integer, not ${v}`);
    if (UINT32.has(t) && (v < 0 || v > 0xffffffff)) fail(where, `${t} out of range (${v})`);
    if (INT32.has(t) && (v < -0x80000000 || v > 0x7fffffff)) fail(where, `${t} out of range (${v})`);
    return v;
  }
  if (t === 'double' || t === 'float') {
    if (typeof v !== 'number') fail(where, `${t} must be a number, not ${typeof v}`);
    return v;
  }
  if (t === 'bool') {
    if (typeof v !== 'boolean') fail(where, `bool must be true or false, not ${typeof v}`);
    return v;
  }
  if (t === 'string') {
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    if (typeof v !== 'string') fail(where, `string expected, not ${typeof v}`);
    return v;
  }
  if (t === 'bytes') {
    if (!(v instanceof Uint8Array) && typeof v !== 'string') fail(where, 'bytes must be a Uint8Array');
    return v;
  }
  return v;
}

function value(field, v, where) {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Enum) return enumValue(rt, v, where);
  if (rt instanceof protobuf.Type) return normalize(rt, v, where);
  return scalarValue(field, v, where);
}

/**
 * Checks obj against message type t and returns the object protobufjs's
 * fromObject wants (protobufjs field names, enums as numbers).
 */
function normalize(t, obj, where = t.name) {
  if (obj instanceof t.ctor) return obj;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    fail(where, `${t.name} must be an object`);
  }
  const out = {};
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (v === undefined || v === null) continue;
    const field = t.fields[key] || t.fields[protobuf.util.camelCase(key)];
    if (!field) {
      fail(where, `${t.name} has no field '${key}' (fields: ${Object.keys(t.fields).join(', ')})`);
    }
    const w = `${where}.${key}`;
    if (field.map) {
      if (typeof v !== 'object' || Array.isArray(v)) fail(w, 'a map must be an object or a Map');
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
      const m = {};
      for (const [k, x] of entries) {
        if (x === undefined || x === null) continue;
        let xv = x;
        if (field.type === 'string' && (typeof x === 'boolean' || typeof x === 'number')) xv = String(x);
        m[k] = value(field, xv, `${w}[${JSON.stringify(k)}]`);
      }
      out[field.name] = m;
    } else if (field.repeated) {
      if (typeof v === 'string' || typeof v[Symbol.iterator] !== 'function') {
        fail(w, 'a repeated field must be an array');
      }
      out[field.name] = Array.from(v, (x, i) => value(field, x, `${w}[${i}]`));
    } else {
      out[field.name] = value(field, v, w);
    }
  }
  return out;
}

/** Serializes plain object obj as message t. */
function encode(t, obj) {
  return t.encode(t.fromObject(normalize(t, obj))).finish();
}

function toObjectOptions(enums) {
  return {
    enums: enums === 'number' ? Number : String,
    longs: Number,
    defaults: true,
    arrays: true,
    objects: true,
    oneofs: true,
  };
}

/** Decodes bytes as message t into a plain object. */
function decode(t, bytes, enums = 'name') {
  return t.toObject(t.decode(bytes), toObjectOptions(enums));
}

/* A frozen two-way table of an enum: {PURCHASE: 13, 13: 'PURCHASE'}. */
function enumTable(name) {
  const en = enumType(name);
  const table = {};
  for (const [k, v] of Object.entries(en.values)) {
    table[k] = v;
    table[v] = k;
  }
  return Object.freeze(table);
}

module.exports = {
  protobuf,
  root,
  protoPath,
  type,
  enumType,
  enumTable,
  normalize,
  encode,
  decode,
  toObjectOptions,
};

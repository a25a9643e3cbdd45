'use strict';
/*
 * clm-client: the Node.js client for clmd.
 *
 *   const { Client, watch } = require('clm-client');
 *   const clm = new Client('tcp://127.0.0.1:7450');
 *   await clm.track({ customerId: 'alice', type: 'PURCHASE', value: 49.5 });
 *   const alice = await clm.customer('alice');
 *
 * See README.md.
 */
const proto = require('./proto');
const { Client, DEFAULT_URL } = require('./client');
const { watch, Watcher, DEFAULT_EVENTS_URL } = require('./watch');
const { ClmError, ClmConnectionError, ClmTimeoutError } = require('./errors');
const { parseUrl } = require('./sp');

const ENUMS = [
  'Code',
  'TouchpointType',
  'Channel',
  'Stage',
  'Health',
  'FunnelPosition',
  'RiskReason',
  'RecommendationKind',
  'Granularity',
  'LifecycleEventKind',
];

const enums = {};
for (const name of ENUMS) enums[name] = proto.enumTable(name);

module.exports = {
  Client,
  watch,
  Watcher,
  ClmError,
  ClmConnectionError,
  ClmTimeoutError,
  DEFAULT_URL,
  DEFAULT_EVENTS_URL,
  ...enums,
  /** The protobufjs Root of clm.proto, and where it was read from. */
  root: proto.root,
  protoPath: proto.protoPath(),
  /** Plain object -> serialized message (e.g. encode('Touchpoint', {...})). */
  encode: (typeName, obj) => proto.encode(proto.type(typeName), obj),
  /** Serialized message -> plain object. */
  decode: (typeName, bytes, enumsAs = 'name') => proto.decode(proto.type(typeName), bytes, enumsAs),
  parseUrl,
};

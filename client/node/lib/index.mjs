/*
 * clm-client as an ES module: the objects of the CommonJS entry
 * (lib/index.js), as named exports and as the default export. Node cannot
 * see names that index.js adds with a spread (the enums), so they are
 * listed here; tests/interop/node_package_test.js checks that this list and
 * index.js's exports are the same.
 *
 *   import { Client, Stage } from 'clm-client';
 */
import clm from './index.js';

export const {
  Client,
  watch,
  Watcher,
  ClmError,
  ClmConnectionError,
  ClmTimeoutError,
  DEFAULT_URL,
  DEFAULT_EVENTS_URL,
  Code,
  TouchpointType,
  Channel,
  Stage,
  Health,
  FunnelPosition,
  RiskReason,
  RecommendationKind,
  Granularity,
  LifecycleEventKind,
  root,
  protoPath,
  encode,
  decode,
  parseUrl,
} = clm;

export default clm;

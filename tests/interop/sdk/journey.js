'use strict';
/*
 * The journey every tracking SDK sends, through its own public API, to a
 * host given as its one host setting (Segment `host`, RudderStack
 * `dataPlaneUrl`, PostHog `host`): used by capture.js (the recordings in
 * tests/data/sdk/) and by ../sdk_test.js (against a real clmd).
 *
 * In this order, for one customer and one anonymous visitor:
 *   page      an anonymous page view (Segment/Rudder page, PostHog $pageview)
 *   identify  the customer, with nested traits
 *   order     track "Order Completed": revenue, currency, two products[]
 *   alias     the visitor's anonymous id into the customer
 *   group     the customer's company (PostHog: groupIdentify)
 *   custom    track "Pricing Viewed", a name no table maps
 *   campaign  track "Signed Up" with context.campaign UTM fields (PostHog:
 *             utm_* properties, its own convention; it has no context)
 *
 * Every id and time is fixed by the caller's `ids`, wherever the SDK lets
 * its caller set it (messageId / uuid, timestamp), so sending the journey
 * twice sends the same events twice. PostHog's identify, alias and
 * groupIdentify take neither: they get a fresh uuid and the current time
 * each time.
 *
 * The SDKs live in this directory's node_modules (npm ci here, or
 * tools/install-deps.sh test).
 */
const path = require('node:path');

const SDKS = ['segment', 'rudder', 'posthog'];

/* Fixed event times: 2026-01-10T00:00:00Z and minutes after it. */
const T0 = Date.UTC(2026, 0, 10, 0, 0, 0);
const at = (min) => new Date(T0 + min * 60000);

/* The ids one run of the journey uses, from a prefix ("seg", "rs", "ph"). */
function journeyIds(sdk, tag = '') {
  const p = { segment: 'seg', rudder: 'rs', posthog: 'ph' }[sdk];
  if (!p) throw new Error(`unknown sdk '${sdk}'`);
  const hex = (n) => n.toString(16).padStart(12, '0');
  // PostHog's uuid is a UUID (v7 by default); Segment's and Rudder's
  // messageId any string. Both stay fixed across runs.
  const base = { segment: 1, rudder: 2, posthog: 3 }[sdk];
  const id = (n, name) =>
    sdk === 'posthog' ? `01941a2b-3c4d-7e5f-8${base}00-${hex(n)}` : `${p}${tag}-${name}`;
  return {
    user: `${p}${tag}-kim`,
    anon: `${p}${tag}-anon-7f3a`,
    page: id(1, 'page'),
    identify: id(2, 'identify'),
    order: id(3, 'order'),
    alias: id(4, 'alias'),
    group: id(5, 'group'),
    custom: id(6, 'custom'),
    campaign: id(7, 'campaign'),
  };
}

const TRAITS = {
  email: 'kim@example.com',
  name: 'Kim Lee',
  plan: 'pro',
  address: { city: 'Lyon', country: 'FR' },
  preferences: { newsletter: true, language: 'fr' },
};

const ORDER = {
  order_id: 'ord-1001',
  revenue: 49.9,
  total: 54.9,
  shipping: 5,
  currency: 'EUR',
  products: [
    { product_id: 'sku-42', sku: 'SKU-42', name: 'Tea tin', price: 19.95, quantity: 2 },
    { product_id: 'sku-7', sku: 'SKU-7', name: 'Kettle', price: 9.99, quantity: 1 },
  ],
};

const PAGE = {
  url: 'https://shop.example.com/teas?ref=home',
  path: '/teas',
  title: 'Teas',
  referrer: 'https://www.example.org/',
};

const CAMPAIGN = {
  name: 'spring-sale',
  source: 'newsletter',
  medium: 'email',
  term: 'green tea',
  content: 'hero-button',
};

const COMPANY = { name: 'Acme', industry: 'retail', employees: 42 };

function load(name) {
  return require(path.join(__dirname, 'node_modules', name));
}

/* A promise and its resolve. */
function deferred() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/*
 * Send the journey with @segment/analytics-node to host (http://127.0.0.1:PORT).
 * Resolves once closeAndFlush() returned, with the delivery errors the SDK
 * reported (empty when every event was delivered).
 */
async function segment(host, writeKey, ids, opts = {}) {
  const { Analytics } = load('@segment/analytics-node');
  // flushAt above the journey's size and a long interval: nothing leaves
  // before closeAndFlush(), so the journey goes as one batch.
  const analytics = new Analytics({
    writeKey,
    host,
    flushAt: 100,
    flushInterval: 60000,
    maxRetries: opts.maxRetries ?? 3,
    httpRequestTimeout: opts.timeoutMs ?? 20000,
  });
  const errors = [];
  analytics.on('error', (err) => errors.push(err));
  analytics.page({
    anonymousId: ids.anon,
    name: 'Teas',
    properties: PAGE,
    timestamp: at(0),
    messageId: ids.page,
  });
  analytics.identify({ userId: ids.user, traits: TRAITS, timestamp: at(1), messageId: ids.identify });
  analytics.track({
    userId: ids.user,
    event: 'Order Completed',
    properties: ORDER,
    timestamp: at(2),
    messageId: ids.order,
  });
  analytics.alias({ userId: ids.user, previousId: ids.anon, timestamp: at(3), messageId: ids.alias });
  analytics.group({
    userId: ids.user,
    groupId: 'acme',
    traits: COMPANY,
    timestamp: at(4),
    messageId: ids.group,
  });
  analytics.track({
    userId: ids.user,
    event: 'Pricing Viewed',
    properties: { plan: 'team', seats: 5 },
    timestamp: at(5),
    messageId: ids.custom,
  });
  analytics.track({
    userId: ids.user,
    event: 'Signed Up',
    properties: { method: 'email' },
    context: { campaign: CAMPAIGN },
    timestamp: at(6),
    messageId: ids.campaign,
  });
  await analytics.closeAndFlush({ timeout: opts.flushTimeoutMs ?? 60000 });
  return errors;
}

/*
 * Send the journey with @rudderstack/rudder-sdk-node. Resolves once flush()
 * settled, with the errors its callbacks reported.
 */
async function rudder(host, writeKey, ids, opts = {}) {
  const Analytics = load('@rudderstack/rudder-sdk-node');
  const client = new Analytics(writeKey, {
    dataPlaneUrl: host,
    flushAt: 100,
    flushInterval: 60000,
    retryCount: opts.maxRetries ?? 3,
    timeout: opts.timeoutMs ?? 20000,
    gzip: opts.gzip !== false,
    logLevel: 'error',
  });
  const errors = [];
  const pending = [];
  // Each call's callback reports its delivery: wait for all of them.
  const cb = () => {
    const d = deferred();
    pending.push(d.promise);
    return (err) => {
      if (err) errors.push(err);
      d.resolve();
    };
  };
  client.page(
    { anonymousId: ids.anon, name: 'Teas', properties: PAGE, timestamp: at(0), messageId: ids.page },
    cb()
  );
  client.identify(
    { userId: ids.user, traits: TRAITS, timestamp: at(1), messageId: ids.identify },
    cb()
  );
  client.track(
    { userId: ids.user, event: 'Order Completed', properties: ORDER, timestamp: at(2), messageId: ids.order },
    cb()
  );
  client.alias(
    { userId: ids.user, previousId: ids.anon, timestamp: at(3), messageId: ids.alias },
    cb()
  );
  client.group(
    { userId: ids.user, groupId: 'acme', traits: COMPANY, timestamp: at(4), messageId: ids.group },
    cb()
  );
  client.track(
    {
      userId: ids.user,
      event: 'Pricing Viewed',
      properties: { plan: 'team', seats: 5 },
      timestamp: at(5),
      messageId: ids.custom,
    },
    cb()
  );
  client.track(
    {
      userId: ids.user,
      event: 'Signed Up',
      properties: { method: 'email' },
      context: { campaign: CAMPAIGN },
      timestamp: at(6),
      messageId: ids.campaign,
    },
    cb()
  );
  await client.flush();
  await Promise.all(pending);
  return errors;
}

/*
 * Send the journey with posthog-node. Resolves once shutdown() returned,
 * with the errors the client emitted.
 *
 * The anonymous page view carries `$process_person_profile: false`,
 * PostHog's own mark of an anonymous (personless) event: the only sign
 * posthog-node can give that its distinct_id is a visitor, not a customer.
 */
async function posthog(host, apiKey, ids, opts = {}) {
  const { PostHog } = load('posthog-node');
  const client = new PostHog(apiKey, {
    host,
    flushAt: 100,
    flushInterval: 0,
    fetchRetryCount: opts.maxRetries ?? 3,
    fetchRetryDelay: 500,
    requestTimeout: opts.timeoutMs ?? 20000,
    disableCompression: opts.gzip === false,
  });
  const errors = [];
  client.on('error', (err) => errors.push(err));
  // capture() queues its event a few promise turns later (it may look up
  // feature flags first), identify() and alias() at once: in one flush
  // they would go ahead of it. The page view goes first, on its own (as a
  // visitor's would, long before the sign-in), so the alias comes after it.
  await client.captureImmediate({
    distinctId: ids.anon,
    event: '$pageview',
    properties: {
      $current_url: PAGE.url,
      $pathname: PAGE.path,
      title: PAGE.title,
      $referrer: PAGE.referrer,
      $process_person_profile: false,
    },
    timestamp: at(0),
    uuid: ids.page,
  });
  client.identify({ distinctId: ids.user, properties: TRAITS });
  client.capture({
    distinctId: ids.user,
    event: 'Order Completed',
    properties: ORDER,
    timestamp: at(2),
    uuid: ids.order,
  });
  client.alias({ distinctId: ids.user, alias: ids.anon });
  client.groupIdentify({ groupType: 'company', groupKey: 'acme', properties: COMPANY, distinctId: ids.user });
  client.capture({
    distinctId: ids.user,
    event: 'Pricing Viewed',
    properties: { plan: 'team', seats: 5 },
    timestamp: at(5),
    uuid: ids.custom,
  });
  client.capture({
    distinctId: ids.user,
    event: 'Signed Up',
    properties: {
      method: 'email',
      utm_campaign: CAMPAIGN.name,
      utm_source: CAMPAIGN.source,
      utm_medium: CAMPAIGN.medium,
      utm_term: CAMPAIGN.term,
      utm_content: CAMPAIGN.content,
    },
    timestamp: at(6),
    uuid: ids.campaign,
  });
  await client.shutdown(opts.flushTimeoutMs ?? 60000);
  return errors;
}

const send = { segment, rudder, posthog };

module.exports = { SDKS, T0, at, journeyIds, send, TRAITS, ORDER, PAGE, CAMPAIGN, COMPANY };

#!/usr/bin/env node
'use strict';
/*
 * One customer's journey through the five lifecycle stages, against a
 * running clmd:
 *
 *   clmd --data ./clm-data &
 *   node examples/journey.js [REQ_URL [EVENTS_URL]]
 *
 * It watches the stage-change stream, records an anonymous visit, links it
 * to a customer with identify(), records purchases and a referral, then
 * prints the customer, their recommendations and the funnel. Run it twice:
 * the second time every touchpoint is a duplicate (same event ids), so
 * nothing changes.
 */
const { Client, watch, ClmError, ClmConnectionError } = require('..');

const url = process.argv[2] || process.env.CLM_URL || 'tcp://127.0.0.1:7450';
const eventsUrl = process.argv[3] || process.env.CLM_EVENTS_URL || 'tcp://127.0.0.1:7451';

const DAY = 24 * 60 * 60 * 1000;
// Event times: a journey over the last three weeks (UTC midnight, so a
// rerun on the same day sends the very same touchpoints).
const start = Math.floor(Date.now() / DAY) * DAY - 21 * DAY;

async function main() {
  const clm = new Client(url, { timeoutMs: 5000 });
  const stream = watch(eventsUrl, 'stage/');
  const printer = (async () => {
    for await (const { topic, event } of stream) {
      console.log(`  [stream] ${topic}: ${event.customerId} ${event.fromStage} -> ${event.toStage} (seq ${event.seq})`);
    }
  })();
  await stream.ready().catch(() => console.log(`(no event stream at ${eventsUrl})`));

  // Before sign-up: a device id only.
  await clm.track([
    { eventId: 'demo-1', anonymousId: 'device-42', type: 'AD_CLICK', channel: 'PAID_ADS', occurredAtMs: start },
    { eventId: 'demo-2', anonymousId: 'device-42', type: 'SITE_VISIT', channel: 'ORGANIC_SEARCH', occurredAtMs: start + 3600e3, durationS: 240 },
    { eventId: 'demo-3', anonymousId: 'device-42', type: 'ADD_TO_CART', itemId: 'sku-tent', occurredAtMs: start + 2 * 3600e3 },
  ]);
  // Sign-up: the device's history moves to the customer.
  const { merged, customer } = await clm.identify('device-42', 'dana', { plan: 'free', country: 'DE' });
  console.log(`identify: merged=${merged}, stage ${customer.stage}, cart ${JSON.stringify(customer.cartItems)}`);

  const steps = [
    { eventId: 'demo-4', type: 'PURCHASE', channel: 'EMAIL', itemId: 'sku-tent', value: 249, currency: 'EUR', occurredAtMs: start + DAY },
    { eventId: 'demo-5', type: 'APP_OPEN', channel: 'IN_APP', occurredAtMs: start + 3 * DAY },
    { eventId: 'demo-6', type: 'PURCHASE', channel: 'DIRECT', itemId: 'sku-stove', value: 59.9, currency: 'EUR', occurredAtMs: start + 10 * DAY },
    { eventId: 'demo-7', type: 'REFERRAL', channel: 'REFERRAL_LINK', occurredAtMs: start + 20 * DAY },
  ];
  for (const tp of steps) {
    const r = await clm.track({ customerId: 'dana', ...tp });
    const change = r.changes.map((c) => `${c.fromStage} -> ${c.toStage}`).join(', ') || 'no stage change';
    console.log(`track ${tp.type}: accepted ${r.accepted}, duplicates ${r.duplicates}: ${change}`);
  }

  const dana = await clm.customer('dana');
  console.log(`\ndana: ${dana.stage}, ${dana.health}, funnel ${dana.funnel}, revenue ${dana.revenue}, churn risk ${dana.churnRisk}`);
  for (const h of dana.stageHistory) console.log(`  ${h.stage.padEnd(12)} since ${new Date(h.enteredAtMs).toISOString()}`);

  const rec = await clm.recommend('dana', { limit: 3 });
  console.log('\nrecommendations:');
  for (const x of rec.recommendations) console.log(`  ${x.score.toFixed(2)} ${x.kind} ${x.action} via ${x.channel}: ${x.reason}`);

  const m = await clm.metrics({ fromMs: start, toMs: Date.now() + DAY });
  console.log(`\nfunnel: ${m.customers} customers, ${m.orders} orders, revenue ${m.revenue}, AOV ${m.averageOrderValue.toFixed(2)}`);
  for (const s of m.stages) console.log(`  ${s.stage.padEnd(12)} now ${s.current}, entered ${s.entered}`);

  try {
    await clm.customer('nobody');
  } catch (err) {
    if (!(err instanceof ClmError)) throw err;
    console.log(`\ncustomer('nobody'): ${err.codeName}: ${err.message}`);
  }

  await new Promise((r) => setTimeout(r, 200)); // let the stream catch up
  stream.close();
  await printer;
  await clm.close();
}

main().catch((err) => {
  if (err instanceof ClmConnectionError) console.error(`cannot reach clmd: ${err.message}`);
  else console.error(err);
  process.exit(1);
});

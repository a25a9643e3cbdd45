/*
 * cmdtab: every command of clm, its flags and its help (see cmdtab.h).
 * A flag is declared here once: its parsing (args.c), the help, the man
 * page and the completion follow from its row; its cmd_*.c reads the
 * value by the flag's name.
 */
#include "cmdtab.h"

#include <string.h>

#include "tpbatch.h"

const char cmdtab_description[]
        = "clm talks to clmd, the customer-lifecycle engine: it records touchpoints, shows where a customer stands in the lifecycle (reach, acquisition, nurture, retention, advocacy), what to do next for them, and the metrics of the whole funnel. Replies are printed as tables, or as JSON with --json (one object a line, protobuf JSON field names).";

const char cmdtab_notes[]
        = "TIME is unix ms or an ISO 8601 UTC date or time (2026-11-24, 2026-11-24T06:47:00Z); CH is a channel (paid_ads, email, ...), TYPE a touchpoint type (purchase, site_visit, ...), in any case, with - or _. `clm help COMMAND` or `clm COMMAND --help` tells more about a command.";

const char *const cmdtab_exit_codes[] = {
	"0 ok",
	"1 the server returned an error (its code and message are printed)",
	"2 usage error: a bad command line (an unknown flag, a --url clmd cannot listen on) or unreadable input",
	"3 cannot connect, or no reply in time (clm watch: the stream did not answer within --timeout)",
	NULL,
};

const struct cmdtab_flag cmdtab_global_flags[] = {
	{ .name = "--url",
	        .arg = "URL",
	        .help = "clmd to talk to (default " CLM_DEFAULT_URL
	                ", or $CLM_URL)" },
	{ .name = "--token",
	        .arg = "T",
	        .help = "auth token (or $CLM_TOKEN)" },
	{ .name = "--tls-ca",
	        .arg = "FILE",
	        .values = CMDTAB_FILE,
	        .help
	        = "CA that signed the server's certificate, for tls+tcp:// ($CLM_TLS_CA)" },
	{ .name = "--tls-cert",
	        .arg = "FILE",
	        .values = CMDTAB_FILE,
	        .help
	        = "our certificate and key in one PEM file ($CLM_TLS_CERT)" },
	{ .name = "--tls-server-name",
	        .arg = "NAME",
	        .help
	        = "name in the server's certificate (default: the URL's host)" },
	{ .name = "--json",
	        .help = "print replies as JSON, one object a line" },
	{ .name = "--timeout",
	        .arg = "MS",
	        .help = "wait this long for a reply (default 10000)" },
	{ .name = "--min-position",
	        .arg = "N",
	        .help
	        = "have clmd answer only once its view has applied journal position N (up to 1 s, then UNAVAILABLE \"not caught up\")" },
	{ .name = "--help",
	        .help = "print the commands and options, and exit" },
	{ .name = "--version", .help = "print the version and exit" },
	{ 0 },
};

const struct cmdtab_flag cmdtab_common_flags[] = {
	{ .name = "--json",
	        .help = "print the reply as JSON (as before the command)" },
	{ .name = "--help", .help = "print the command's help" },
	{ 0 },
};

const struct cmdtab_env cmdtab_env[] = {
	{ "CLM_URL", "the URL of clmd, when there is no --url" },
	{ "CLM_TOKEN", "the auth token, when there is no --token" },
	{ "CLM_TLS_CA", "the CA file, when there is no --tls-ca" },
	{ "CLM_TLS_CERT",
	        "the certificate file, when there is no --tls-cert" },
	{ "CLM_EVENTS_URL",
	        "the event stream of clm watch, when there is no --events (default: from the URL of clmd, see clm help watch)" },
	{ NULL, NULL },
};

/*
 * The parts of rows added since the table reached its size: clang-format
 * 14 lays the whole initializer of cmdtab_commands out anew (every row
 * changed) once it grows, so a new row names its synopsis, flags and text
 * here and stays small.
 */
static const char *const cmdtab_snapshot_synopsis[]
        = { "FILE [--data DIR]", NULL };
static const struct cmdtab_flag cmdtab_snapshot_flags[] = {
	{ .name = "--data",
	        .arg = "DIR",
	        .values = CMDTAB_FILE,
	        .help
	        = "clmd's data directory (default ./clm-data, as clmd's)" },
	{ 0 },
};
static const char cmdtab_snapshot_text[]
        = "Writes a consistent, compacted copy of DIR/data.mdb, the view as of its last checkpoint, to FILE (through FILE.tmp, synced, then renamed), and prints its journal position: snapshot FILE at position N (BYTES bytes). It reads the data directory directly, beside a running clmd, and sends no request: run it on the node's host, as a user who may read the directory. The overlay and the journal are not in the copy; a node started on it (FILE copied to its DIR/data.mdb) replays what comes after the position. See Snapshots in docs/operations.md.";

static const char *const cmdtab_segment_synopsis[] = {
	"define NAME EXPR [--no-wait]",
	"count NAME [--as-of TIME]",
	"members NAME [--as-of TIME] [--page-size N]",
	"show NAME [--as-of TIME]",
	"list",
	"delete NAME",
	NULL,
};
static const struct cmdtab_flag cmdtab_segment_flags[] = {
	{ .name = "--as-of",
	        .arg = "TIME",
	        .help
	        = "count, members, show: at TIME instead of now (answered by a scan of every customer)",
	        .kind = CMDTAB_TIME,
	        .bad = "invalid %s '%s'" },
	{ .name = "--page-size",
	        .arg = "N",
	        .help = "members: ids per call, 1 to 10000 (default 1000)",
	        .kind = CMDTAB_INT,
	        .min = 1,
	        .max = 10000 },
	{ .name = "--no-wait",
	        .help
	        = "define: return once defined, without waiting for the backfill" },
	{ 0 },
};
static const char cmdtab_segment_text[]
        = "A segment is a named condition on customers, kept exact as writes arrive and as time passes; docs/segments.md has the language. Quote EXPR for the shell:\n\n"
          "  clm segment define slipping 'stage = RETENTION and since(last_seen) > 30d'\n\n"
          "define: stores the segment (replacing one of that name), then waits for its backfill, however long it takes, with a progress line on stderr (backfill 42% (420000 of 1000000 customers)), and prints NAME: N customers. --timeout bounds each call, not the wait. A bad EXPR is an INVALID_ARGUMENT giving the byte where it went wrong.\n\n"
          "count: the number of members. members: their ids, one a line, ascending, every page (with --json one GetSegmentReply a page). show: the expression, count, backfill and when it was defined. list: every segment with its count, backfill and expression. delete: removes a segment (no segment of that name is not an error).";

static const char *const cmdtab_journey_synopsis[] = {
	"define FILE",
	"status NAME",
	"list",
	"delete NAME",
	"messages [--after N] [--limit N] [--journey NAME] [--follow]",
	NULL,
};
static const struct cmdtab_flag cmdtab_journey_flags[] = {
	{ .name = "--after",
	        .arg = "N",
	        .help
	        = "messages: those after feed position N (default 0: from the oldest kept)",
	        .kind = CMDTAB_INT,
	        .min = 0,
	        .max = 1e18 },
	{ .name = "--limit",
	        .arg = "N",
	        .help = "messages: print at most N messages, then stop",
	        .kind = CMDTAB_INT,
	        .min = 1,
	        .max = 1e18 },
	{ .name = "--journey",
	        .arg = "NAME",
	        .help = "messages: only those of the journey NAME" },
	{ .name = "--follow",
	        .help
	        = "messages: after the last page, ask for newer messages once a second until interrupted" },
	{ 0 },
};
static const char cmdtab_journey_text[]
        = "A journey is a timed flow of messages that clmd runs by itself: a trigger enters a customer, each step waits, checks its condition and the frequency caps, and claims its message exactly once. docs/journeys.md has the definition's JSON:\n\n"
          "  clm journey define cart-recovery.json\n\n"
          "define: stores the journey that FILE (- for stdin) defines, replacing the definition of one of that name (its customers stay at their step), and prints NAME: defined (or replaced). A bad definition is an INVALID_ARGUMENT whose violation starts with the JSON path of the fault.\n\n"
          "status: the journey's counts (entered, active, exited, completed, removed), then a row per step: messages sent, steps skipped because their condition was false, because the caps held them back or because they ran too late, and the customers waiting for it; with a webhook, its messages delivered, pending, retried and dead. list: every journey with its counts. delete: removes a journey and its statistics (no journey of that name is not an error).\n\n"
          "messages: the durable feed of the messages the journeys sent, oldest first, one a line: position, message id, journey, step, customer, kind, action, channel, item (- for none) and when it was claimed (with --json one clm.v1.LifecycleEvent a line). An app that delivers them keeps the last position it handled and goes on with --after. With --follow it then asks for newer messages once a second until interrupted (SIGINT or SIGTERM), and exits 0.";

/* The table. The order is the order of `clm --help`. */
const struct cmdtab_command cmdtab_commands[] = {
	{
	        .name = "status",
	        .run = cmd_status,
	        .summary = "the server's version, uptime, counts and sizes",
	        .synopsis = (const char *const[]) { "", NULL },
	        .text
	        = "Version, uptime, customers, touchpoints, the database's size and map size, and the durability mode. It is also a health check: exit 0 when clmd answered within --timeout, 3 when it could not be reached.",
	},
	{
	        .name = "track",
	        .run = cmd_track,
	        .dashes = 0,
	        .greedy = true,
	        .summary = "record a touchpoint (flags) or NDJSON from stdin",
	        .synopsis = (const char *const
	                        []) { "--customer ID --type TYPE [--channel CH] [--at TIME] [--event-id ID] [--anonymous-id ID] [--item ID] [--value N] [--currency C] [--duration S] [--sentiment X] [--lat N --lon N] [--campaign C] [--prop KEY=VALUE]... [--event-name NAME] [--order-item ID]...",
	                "< touchpoints.ndjson", NULL },
	        .flags = (const struct cmdtab_flag
	                        []) { { .name = "--customer",
	                                      .arg = "ID",
	                                      .help = "the customer's id" },
	                { .name = "--customer-id",
	                        .arg = "ID",
	                        .help = "the same as --customer",
	                        .same_as = "--customer" },
	                { .name = "--anonymous-id",
	                        .arg = "ID",
	                        .help
	                        = "a visitor not known yet (a cookie or device id), instead of or with --customer" },
	                { .name = "--type",
	                        .arg = "TYPE",
	                        .values = CMDTAB_TYPE,
	                        .help
	                        = "what happened: purchase, site_visit, ad_click, ...",
	                        .kind = CMDTAB_ENUM },
	                { .name = "--channel",
	                        .arg = "CH",
	                        .values = CMDTAB_CHANNEL,
	                        .help
	                        = "where it happened: paid_ads, email, ...",
	                        .kind = CMDTAB_ENUM },
	                { .name = "--at",
	                        .arg = "TIME",
	                        .help = "when it happened (default: now)",
	                        .kind = CMDTAB_TIME },
	                { .name = "--event-id",
	                        .arg = "ID",
	                        .help
	                        = "idempotency key: the same id again changes nothing" },
	                { .name = "--item",
	                        .arg = "ID",
	                        .help
	                        = "the item bought, added to the cart, ..." },
	                { .name = "--value",
	                        .arg = "N",
	                        .help
	                        = "money: a purchase's or a refund's amount",
	                        .kind = CMDTAB_NUMBER },
	                { .name = "--currency",
	                        .arg = "C",
	                        .help
	                        = "the currency of --value (EUR, USD, ...)" },
	                { .name = "--duration",
	                        .arg = "S",
	                        .help = "seconds, e.g. of a site visit",
	                        .kind = CMDTAB_NUMBER,
	                        .min = 0,
	                        .max = 4294967295.0 },
	                { .name = "--sentiment",
	                        .arg = "X",
	                        .help = "from -1 (negative) to 1 (positive)",
	                        .kind = CMDTAB_NUMBER },
	                { .name = "--lat",
	                        .arg = "N",
	                        .help
	                        = "latitude where it happened (with --lon)",
	                        .kind = CMDTAB_NUMBER },
	                { .name = "--lon",
	                        .arg = "N",
	                        .help
	                        = "longitude where it happened (with --lat)",
	                        .kind = CMDTAB_NUMBER },
	                { .name = "--campaign",
	                        .arg = "C",
	                        .help = "the campaign it came from" },
	                { .name = "--prop",
	                        .arg = "KEY=VALUE",
	                        .help
	                        = "a property of the touchpoint (repeatable, up to 64)",
	                        .kind = CMDTAB_PAIR },
	                { .name = "--event-name",
	                        .arg = "NAME",
	                        .help
	                        = "the event's own name, for --type custom (an event no type names)" },
	                { .name = "--order-item",
	                        .arg = "ID",
	                        .help
	                        = "another item of the same order, for a purchase or refund with --item (repeatable, up to 64)",
	                        .kind = CMDTAB_LIST },
	                { 0 } },
	        .text
	        = "Prints each stage change the touchpoint caused, and \"recorded\" or \"duplicate\".\n\n"
	          "Without flags it reads NDJSON from standard input: one clm.v1.Touchpoint in proto3 JSON a line (what clm export writes), sent in batches of 1000. Rejected touchpoints and unreadable lines are listed on stderr with their line numbers, then the totals. With --json every reply is printed as a TrackReply.",
	},
	{
	        .name = "customer",
	        .run = cmd_customer,
	        .dashes = 2,
	        .summary = "a customer's stage, health, risk and history",
	        .synopsis
	        = (const char *const[]) { "ID [--as-of TIME]", NULL },
	        .flags = (const struct cmdtab_flag
	                        []) { { .name = "--as-of",
	                                      .arg = "TIME",
	                                      .help
	                                      = "the clock for health and churn risk (default: now)",
	                                      .kind = CMDTAB_TIME,
	                                      .bad = "invalid %s '%s'" },
	                { 0 } },
	        .text
	        = "Stage and funnel position, health, churn risk and its reasons, traits, first and last seen, purchases and revenue, the acquisition and conversion channels, the cart, the stage history in event time and the touchpoints by type.",
	},
	{
	        .name = "identify",
	        .run = cmd_identify,
	        .dashes = 2,
	        .summary
	        = "link an anonymous id to a customer (merges its history)",
	        .synopsis = (const char *const
	                        []) { "ANONYMOUS_ID CUSTOMER_ID [--trait KEY=VALUE]...",
	                NULL },
	        .flags = (const struct cmdtab_flag
	                        []) { { .name = "--trait",
	                                      .arg = "KEY=VALUE",
	                                      .help
	                                      = "a trait to store on the customer (repeatable)",
	                                      .kind = CMDTAB_PAIR },
	                { 0 } },
	        .text
	        = "The touchpoints tracked under ANONYMOUS_ID become CUSTOMER_ID's, and its stage history is recomputed in event time. Later touchpoints with that anonymous id go to the customer.",
	},
	{
	        .name = "forget",
	        .run = cmd_forget,
	        .summary = "erase a customer and all its data",
	        .synopsis = (const char *const[]) { "ID", NULL },
	        .text
	        = "Erases, in one transaction, the profile, every touchpoint and its event id, and the links of its anonymous ids; aggregates that hold no identifier stay. It cannot be undone. Forgetting a customer that does not exist is not an error.",
	},
	{
	        .name = "export",
	        .run = cmd_export,
	        .summary = "a customer and all touchpoints, as NDJSON",
	        .synopsis = (const char *const[]) { "ID", NULL },
	        .text
	        = "The first line is the clm.v1.Customer, then every touchpoint in event-time order, each in proto3 JSON; the touchpoint lines can be fed back to clm track. The output is JSON with or without --json.",
	},
	{
	        .name = "snapshot",
	        .run = cmd_snapshot,
	        .dashes = 2,
	        .summary
	        = "copy this host's view to a file, with its position",
	        .synopsis = cmdtab_snapshot_synopsis,
	        .flags = cmdtab_snapshot_flags,
	        .text = cmdtab_snapshot_text,
	        .operand = CMDTAB_FILE,
	},
	{
	        .name = "watch",
	        .run = cmd_watch,
	        .dashes = 2,
	        .summary
	        = "print stage changes, risk signals, segment and journey events live",
	        .synopsis = (const char *const
	                        []) { "[PREFIX] [--events URL] [--count N]",
	                NULL },
	        .flags = (const struct cmdtab_flag
	                        []) { { .name = "--events",
	                                      .arg = "URL",
	                                      .help
	                                      = "the event stream (default $CLM_EVENTS_URL, else from the URL of clmd)" },
	                { .name = "--count",
	                        .arg = "N",
	                        .help = "stop after N events",
	                        .kind = CMDTAB_OWN },
	                { 0 } },
	        .text = "PREFIX picks the topics: stage/ for stage changes, stage/RETENTION for one stage, risk/ for risk signals, segment/ for segment entries and exits, segment/enter/NAME for one segment's entries, journey/ for the messages journeys send, journey/NAME for one journey's (default: all). "
	                "Runs until interrupted, or until N events were printed. Each event carries its seq: a gap means events were dropped because the reader was slow. Without --events or $CLM_EVENTS_URL the stream's URL comes from clmd's (--url, $CLM_URL): tcp://HOST:PORT and tls+tcp://HOST:PORT publish on tcp://HOST:PORT+1 (clmd's defaults, 7450 and 7451), ipc://DIR/NAME on ipc://DIR/events.sock (the owner-only stream of a clmd with auth tokens, when DIR is its data dir); with a token and a tcp:// URL give --events (clmd logs the stream's URL at start). Exits 3 when the stream does not answer within --timeout.",
	        .operand = CMDTAB_WORDS,
	        .operand_words = "stage/ risk/ segment/ journey/",
	},
	{
	        .name = "recommend",
	        .run = cmd_recommend,
	        .dashes = 2,
	        .greedy = true,
	        .summary
	        = "what to do next for a customer (--claim records it)",
	        .synopsis = (const char *const
	                        []) { "ID [--lat N --lon N] [--cart ITEM]... [--channel CH] [--limit N] [--now TIME] [--include-suppressed] [--claim]",
	                NULL },
	        .flags = (const struct cmdtab_flag
	                        []) { { .name = "--lat",
	                                      .arg = "N",
	                                      .help
	                                      = "where the customer is now, for store offers (with --lon)",
	                                      .kind = CMDTAB_NUMBER },
	                { .name = "--lon",
	                        .arg = "N",
	                        .help = "longitude, with --lat",
	                        .kind = CMDTAB_NUMBER },
	                { .name = "--cart",
	                        .arg = "ITEM",
	                        .help
	                        = "an item in the cart right now (repeatable)",
	                        .kind = CMDTAB_LIST },
	                { .name = "--channel",
	                        .arg = "CH",
	                        .values = CMDTAB_CHANNEL,
	                        .help
	                        = "the channel of messages that may go anywhere (default email)",
	                        .kind = CMDTAB_ENUM },
	                { .name = "--limit",
	                        .arg = "N",
	                        .help
	                        = "how many, best first (default 5, at most 50)",
	                        .kind = CMDTAB_INT,
	                        .min = 1,
	                        .max = 1000 },
	                { .name = "--now",
	                        .arg = "TIME",
	                        .help = "decide as of TIME (default: now)",
	                        .kind = CMDTAB_TIME },
	                { .name = "--include-suppressed",
	                        .help
	                        = "also list what the frequency cap holds back" },
	                { .name = "--claim",
	                        .help
	                        = "record the messages returned as sent, so the cap counts them" },
	                { 0 } },
	        .text
	        = "Each recommendation has a score, a kind (cart reminder, geo offer, upsell, cross-sell, win-back, ...), an action code, a channel, the item or store it is about and why. docs/api.md has the rule book.",
	},
	{
	        .name = "catalog",
	        .run = cmd_catalog,
	        .summary = "load items and stores from CSV or NDJSON",
	        .synopsis = (const char *const[]) { "FILE", NULL },
	        .text
	        = "FILE (- for stdin) is NDJSON, one clm.v1.Item (with \"itemId\") or clm.v1.Store (with \"storeId\") in proto3 JSON a line, or CSV with a header naming some of these columns, in any order:\n\n"
	          "  type,id,name,category,price,upgrade_to,lat,lon,radius_m,discount_pct\n\n"
	          "type is item or store (without it, a row with lat is a store). Fields may be \"quoted\", with \"\" for a quote. Loading an id again replaces it.",
	        .operand = CMDTAB_FILE,
	},
	{
	        .name = "import",
	        .run = cmd_import,
	        .dashes = 1,
	        .greedy = true,
	        .summary = "load touchpoints from CSV or NDJSON, in batches",
	        .synopsis = (const char *const
	                        []) { "FILE [--format csv|ndjson] [--batch N]",
	                NULL },
	        .flags = (const struct cmdtab_flag
	                        []) { { .name = "--format",
	                                      .arg = "F",
	                                      .values = CMDTAB_WORDS,
	                                      .words = "csv ndjson",
	                                      .help
	                                      = "csv or ndjson (default: by the extension, else the first character)",
	                                      .kind = CMDTAB_OWN },
	                { .name = "--batch",
	                        .arg = "N",
	                        .help
	                        = "touchpoints per Track call, 1 to 10000 (default 1000)",
	                        .kind = CMDTAB_INT,
	                        .min = 1,
	                        .max = TPBATCH_MAX },
	                { 0 } },
	        .text
	        = "FILE holds touchpoints; - reads standard input. NDJSON: one clm.v1.Touchpoint in proto3 JSON a line. CSV: a header of Touchpoint field names (event_id, customer_id, anonymous_id, type, channel, occurred_at (ISO) or occurred_at_ms, item_id, value, currency, duration_s, sentiment, lat, lon, campaign, event_name) and prop.KEY columns for properties; empty cells are unset (order_items, a list, needs NDJSON).\n\n"
	          "Batches are sent one at a time, in the file's order; the next one is read while the server applies the last. Progress goes to stderr when it is a terminal. Unreadable and rejected lines are counted and listed with their numbers; they do not stop the import. Exit 0 when the server answered every batch (even with rejected lines), 1 on a server error, 3 when the connection is lost; importing again is safe for touchpoints with an event_id. With --json the result is one TrackReply whose rejected items are indexed by line number.",
	        .operand = CMDTAB_FILE,
	},
	{
	        .name = "metrics",
	        .run = cmd_metrics,
	        .dashes = 1,
	        .greedy = true,
	        .summary = "the funnel, conversions, money, site and channels",
	        .synopsis = (const char *const
	                        []) { "[--from TIME] [--to TIME] [--channel CH] [--window-days N]",
	                NULL },
	        .flags = (const struct cmdtab_flag
	                        []) { { .name = "--from",
	                                      .arg = "TIME",
	                                      .help
	                                      = "first day of the window (default: 30 days before --to)",
	                                      .kind = CMDTAB_WINDOW },
	                { .name = "--to",
	                        .arg = "TIME",
	                        .help
	                        = "end of the window, exclusive (default: the end of today)",
	                        .kind = CMDTAB_WINDOW },
	                { .name = "--channel",
	                        .arg = "CH",
	                        .values = CMDTAB_CHANNEL,
	                        .help
	                        = "count only touchpoints on this channel",
	                        .kind = CMDTAB_ENUM },
	                { .name = "--window-days",
	                        .arg = "N",
	                        .help
	                        = "conversions count within N days (default 30)",
	                        .kind = CMDTAB_INT,
	                        .min = 1,
	                        .max = 3650 },
	                { 0 } },
	        .text
	        = "Times are rounded down to 00:00 UTC. docs/metrics.md defines every figure.",
	},
	{
	        .name = "cohorts",
	        .run = cmd_cohorts,
	        .dashes = 1,
	        .greedy = true,
	        .summary = "retention of purchase cohorts by period",
	        .synopsis = (const char *const
	                        []) { "[--from TIME] [--to TIME] [--by day|week|month] [--periods N]",
	                NULL },
	        .flags = (const struct cmdtab_flag
	                        []) { { .name = "--from",
	                                      .arg = "TIME",
	                                      .help
	                                      = "first cohort period (default: a square matrix ending at --to)",
	                                      .kind = CMDTAB_WINDOW },
	                { .name = "--to",
	                        .arg = "TIME",
	                        .help
	                        = "end of the cohorts, exclusive (default: the end of today)",
	                        .kind = CMDTAB_WINDOW },
	                { .name = "--by",
	                        .arg = "P",
	                        .values = CMDTAB_WORDS,
	                        .words = "day week month",
	                        .help
	                        = "cohort period: day, week (ISO, from Monday; the default) or month",
	                        .kind = CMDTAB_WORD },
	                { .name = "--periods",
	                        .arg = "N",
	                        .help
	                        = "columns, the cohort's own period included (default 8)",
	                        .kind = CMDTAB_INT,
	                        .min = 1,
	                        .max = 120 },
	                { 0 } },
	        .text
	        = "One row per cohort of first purchases: its start and size, then the share of it with a purchase in each period after; periods that have not started yet are left blank.",
	},
	{
	        .name = "spend",
	        .run = cmd_spend,
	        .dashes = 1,
	        .greedy = true,
	        .summary = "record ad spend per channel and day",
	        .synopsis = (const char *const
	                        []) { "--channel CH --day DATE --amount X [--campaign NAME] [--currency CUR]",
	                "FILE", NULL },
	        .flags = (const struct cmdtab_flag
	                        []) { { .name = "--channel",
	                                      .arg = "CH",
	                                      .values = CMDTAB_CHANNEL,
	                                      .help
	                                      = "the channel the money went to",
	                                      .kind = CMDTAB_ENUM },
	                { .name = "--day",
	                        .arg = "DATE",
	                        .help = "the day (2026-01-31, or unix ms)",
	                        .kind = CMDTAB_TIME,
	                        .bad = "%s: invalid date '%s'" },
	                { .name = "--amount",
	                        .arg = "X",
	                        .help = "how much was spent",
	                        .kind = CMDTAB_NUMBER },
	                { .name = "--campaign",
	                        .arg = "NAME",
	                        .help = "the campaign (default: none)" },
	                { .name = "--currency",
	                        .arg = "CUR",
	                        .help = "the currency of --amount" },
	                { 0 } },
	        .text
	        = "FILE (- for stdin) is NDJSON, one clm.v1.Spend a line ({\"channel\":\"PAID_ADS\",\"dayMs\":...,\"amount\":...}), or CSV with a header of channel,day,amount[,currency][,campaign] (day as 2026-01-31 or unix ms). Recording a (channel, day, campaign) again replaces it.",
	        .operand = CMDTAB_FILE,
	},
	{
	        .name = "experiment",
	        .run = cmd_experiment,
	        .dashes = 2,
	        .summary
	        = "define an A/B test, assign a customer, see results",
	        .synopsis = (const char *const
	                        []) { "define ID --goal TYPE NAME[:WEIGHT] NAME[:WEIGHT]...",
	                "assign ID CUSTOMER", "results ID", NULL },
	        .flags = (const struct cmdtab_flag
	                        []) { { .name = "--goal",
	                                      .arg = "TYPE",
	                                      .values = CMDTAB_TYPE,
	                                      .help
	                                      = "define: the touchpoint type that counts as a conversion",
	                                      .kind = CMDTAB_ENUM,
	                                      .min = 1,
	                                      .missing
	                                      = "--goal needs a touchpoint type" },
	                { 0 } },
	        .text
	        = "define: the variants in order (the first is the control), each with a weight (default 1).\n\n"
	          "assign: the customer's variant, sticky from the first call.\n\n"
	          "results: exposures, conversions, lift, p-value and 95% interval per variant.",
	        .operand = CMDTAB_WORDS,
	        .operand_words = "define assign results",
	},
	{
	        .name = "segment",
	        .run = cmd_segment,
	        .dashes = 2,
	        .summary
	        = "define, count and list segments: groups of customers",
	        .synopsis = cmdtab_segment_synopsis,
	        .flags = cmdtab_segment_flags,
	        .text = cmdtab_segment_text,
	        .operand = CMDTAB_WORDS,
	        .operand_words = "define count members show list delete",
	},
	{
	        .name = "journey",
	        .run = cmd_journey,
	        .dashes = 2,
	        .summary
	        = "define journeys, see their statistics and the messages they sent",
	        .synopsis = cmdtab_journey_synopsis,
	        .flags = cmdtab_journey_flags,
	        .text = cmdtab_journey_text,
	        .operand = CMDTAB_WORDS,
	        .operand_words = "define status list delete messages",
	},
	{
	        .name = "help",
	        .run = cmd_help,
	        .dashes = 1,
	        .summary = "the commands, one command's help, or the man page",
	        .synopsis
	        = (const char *const[]) { "[COMMAND]", "--man", NULL },
	        .flags = (const struct cmdtab_flag
	                        []) { { .name = "--man",
	                                      .help
	                                      = "print the clm(1) manual page, in roff" },
	                { 0 } },
	        .text
	        = "`clm help COMMAND` prints what `clm COMMAND --help` does. With --json the table of commands and flags is printed as JSON, for tools. To read the manual without installing it: clm help --man | man -l -",
	        .operand = CMDTAB_COMMAND,
	},
	{
	        .name = "completion",
	        .run = cmd_completion,
	        .summary = "print the bash completion script",
	        .synopsis = (const char *const[]) { "bash", NULL },
	        .text
	        = "Load it in this shell:\n\n"
	          "  source <(clm completion bash)\n\n"
	          "or install it for every new shell:\n\n"
	          "  clm completion bash > /usr/share/bash-completion/completions/clm\n\n"
	          "It completes the commands, their flags, channels, touchpoint types and file names. It is a script, so --json changes nothing.",
	        .operand = CMDTAB_WORDS,
	        .operand_words = "bash",
	},
};

const size_t cmdtab_n_commands
        = sizeof(cmdtab_commands) / sizeof(cmdtab_commands[0]);

const struct cmdtab_command *
cmdtab_find(const char *name)
{
	for (size_t i = 0; i < cmdtab_n_commands; i++) {
		if (strcmp(cmdtab_commands[i].name, name) == 0) {
			return &cmdtab_commands[i];
		}
	}
	return NULL;
}

size_t
cmdtab_flag_count(const struct cmdtab_flag *flags)
{
	size_t n = 0;
	while (flags != NULL && flags[n].name != NULL) {
		n++;
	}
	return n;
}

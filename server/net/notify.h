/*
 * notify: tell the service manager how clmd is doing, with systemd's
 * sd_notify protocol, without linking libsystemd.
 *
 * When clmd runs under systemd with Type=notify, $NOTIFY_SOCKET names an
 * AF_UNIX datagram socket (a path, or '@' then the name of an abstract
 * socket); each notification is one datagram of newline-separated
 * KEY=VALUE lines sent there. Without $NOTIFY_SOCKET every function here
 * does nothing, so clmd behaves the same under any other supervisor.
 *
 * None of them can make clmd fail: a notification that cannot be sent is
 * logged once as a warning and dropped. Each send waits at most
 * NOTIFY_SEND_TIMEOUT_MS for room in the receiver's queue, so a manager
 * that stopped reading cannot hang clmd. Safe to call from any thread
 * (the socket is opened per call); they read the environment, so do not
 * call them while another thread changes it.
 */
#ifndef CLM_NOTIFY_H
#define CLM_NOTIFY_H

#include <stdbool.h>

/* The longest a notification waits for the receiver's queue. */
#define NOTIFY_SEND_TIMEOUT_MS 1000

/*
 * notify_ready says that clmd is serving: "READY=1\nMAINPID=<pid>".
 * Call it once every listener is up. Returns true when the message was
 * sent, false when there is no $NOTIFY_SOCKET or it could not be sent
 * (logged).
 */
bool notify_ready(void);

/*
 * notify_stopping says that clmd is shutting down: "STOPPING=1". Call it
 * when a stop signal arrives, before the drain. Returns as notify_ready.
 */
bool notify_stopping(void);

/*
 * notify_status sets the one-line status `systemctl status` shows:
 * "STATUS=<text>", the text formatted as by printf (a newline in it ends
 * the status there). Returns as notify_ready; false also when the text
 * does not fit in a datagram of 4 KiB.
 */
bool notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * notify_send sends msg (KEY=VALUE lines) as it is: the primitive the
 * others use, for notifications they do not cover. Returns as
 * notify_ready.
 */
bool notify_send(const char *msg);

#endif /* CLM_NOTIFY_H */

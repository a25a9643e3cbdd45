/*
 * dashboard: the one page of the web dashboard, server/net/dashboard.html
 * (HTML, CSS and vanilla JavaScript, no external resources), embedded in
 * clmd at build time by server/net/dashboard.cmake. http.c serves it at `/`;
 * the page fetches its figures from the /api/ endpoints.
 */
#ifndef CLM_DASHBOARD_H
#define CLM_DASHBOARD_H

#include <stddef.h>

/* The page's bytes (UTF-8, not NUL-terminated) and their number. */
extern const unsigned char dashboard_html[];
extern const size_t dashboard_html_len;

#endif /* CLM_DASHBOARD_H */

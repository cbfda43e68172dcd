/*
 * wasi-compat: poll.h. WASI's poll has no "priority data" event; PHP asks
 * for POLLPRI next to POLLIN when checking socket liveness. Defined as 0,
 * it adds nothing to the requested events and is never reported.
 */
#ifndef _WASI_COMPAT_POLL_H
#define _WASI_COMPAT_POLL_H
#include_next <poll.h>
#ifndef POLLPRI
#define POLLPRI 0
#endif
#endif

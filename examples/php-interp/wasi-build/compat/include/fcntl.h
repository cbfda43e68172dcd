/*
 * wasi-compat: fcntl.h. WASI has no advisory record locks. wasi-libc
 * defines struct flock (so PHP's configure picks its fcntl()-based
 * flock()) but hides the lock commands; define them with musl's values.
 * wasi-libc's fcntl() rejects them with EINVAL, so PHP's flock() returns
 * false instead of pretending to lock.
 */
#ifndef _WASI_COMPAT_FCNTL_H
#define _WASI_COMPAT_FCNTL_H
#include_next <fcntl.h>
#ifndef F_GETLK
#define F_GETLK 5
#define F_SETLK 6
#define F_SETLKW 7
#endif
#ifndef F_RDLCK
#define F_RDLCK 0
#define F_WRLCK 1
#define F_UNLCK 2
#endif
#endif

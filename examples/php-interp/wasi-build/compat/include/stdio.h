/*
 * wasi-compat: stdio.h. WASI cannot start processes; wasi-libc hides
 * popen()/pclose(). PHP's popen(), exec(), shell_exec(), mail() and
 * backticks call them: popen() fails with ENOSYS (PHP then warns / returns
 * false), pclose() with ECHILD. See ../src/compat.c.
 *
 * wasi-libc also hides P_tmpdir ("WASI has no temp directories"); PHP then
 * defines it as "" and sys_get_temp_dir() returns "" unless TMPDIR or
 * sys_temp_dir is set. Use musl's "/tmp": it works whenever the runtime
 * maps a directory at /tmp, and TMPDIR still takes precedence.
 */
#ifndef _WASI_COMPAT_STDIO_H
#define _WASI_COMPAT_STDIO_H
#include_next <stdio.h>
#ifndef P_tmpdir
#define P_tmpdir "/tmp"
#endif
#ifdef __cplusplus
extern "C" {
#endif
FILE *popen(const char *, const char *);
int pclose(FILE *);
#ifdef __cplusplus
}
#endif
#endif

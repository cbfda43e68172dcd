/*
 * wasi-compat: sys/stat.h. WASI files have no permission bits or owners;
 * wasi-libc hides chmod() and umask(). PHP calls both (chmod(), umask(),
 * temporary files). ../src/compat.c: chmod/fchmod fail with ENOSYS,
 * umask() remembers and returns the mask without effect.
 */
#ifndef _WASI_COMPAT_SYS_STAT_H
#define _WASI_COMPAT_SYS_STAT_H
#include_next <sys/stat.h>

/* wasi-libc gives S_IFIFO the same value as S_IFSOCK (WASI has no FIFOs),
 * which makes `switch (mode & S_IFMT)` with both cases (PHP's filetype())
 * fail to compile and makes S_ISFIFO() true for sockets. Use the POSIX
 * value, which WASI never reports. */
#undef S_IFIFO
#define S_IFIFO 0010000
#ifdef __cplusplus
extern "C" {
#endif
int chmod(const char *, mode_t);
int fchmod(int, mode_t);
mode_t umask(mode_t);
#ifdef __cplusplus
}
#endif
#endif

/*
 * wasi-compat: unistd.h. WASI has no users, groups, parent processes or
 * descriptor duplication; wasi-libc hides those declarations. PHP calls a
 * few of them (getuid() for is_writable()-style checks, dup() for a second
 * php://stdout, ...). ../src/compat.c says for each what it answers and
 * why (uid/gid 0 like the owners wasi-libc's stat() reports; dup() fails).
 */
#ifndef _WASI_COMPAT_UNISTD_H
#define _WASI_COMPAT_UNISTD_H
#include_next <unistd.h>
#ifdef __cplusplus
extern "C" {
#endif
uid_t getuid(void);
uid_t geteuid(void);
gid_t getgid(void);
gid_t getegid(void);
pid_t getppid(void);
int dup(int);
int dup2(int, int);
int chown(const char *, uid_t, gid_t);
int fchown(int, uid_t, gid_t);
int lchown(const char *, uid_t, gid_t);
int getgroups(int, gid_t []);
int getdtablesize(void);
#ifdef __cplusplus
}
#endif
#endif

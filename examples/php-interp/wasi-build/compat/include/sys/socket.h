/*
 * wasi-compat: sys/socket.h. wasi-libc declares only the socket calls that
 * WASI preview 1 has (accept, recv, send, shutdown on pre-opened sockets)
 * and hides the rest. PHP's stream and network layers call socket(),
 * connect(), bind() etc. unconditionally, so declare them here; the
 * definitions in ../src/compat.c fail with ENOSYS ("Function not
 * implemented"), which PHP reports like any other socket error.
 */
#ifndef _WASI_COMPAT_SYS_SOCKET_H
#define _WASI_COMPAT_SYS_SOCKET_H
#include_next <sys/socket.h>

/* wasi-libc's struct sockaddr_un has no sun_path: there are no Unix
 * domain sockets to name. PHP compiles its unix:// and udg:// transports
 * only `#ifdef AF_UNIX` (it does the same #undef for Windows and RISC OS),
 * so hide the constant. */
#undef AF_UNIX
#undef PF_UNIX

/* Constants PHP's socket code names that WASI does not define. Values are
 * chosen so that they cannot be mistaken for a WASI flag: wasi-libc
 * rejects them (EINVAL/ENOPROTOOPT/EOPNOTSUPP) if they ever reach it. */
#ifndef SO_ERROR
#define SO_ERROR 4
#endif
#ifndef SOL_IP
#define SOL_IP 0
#endif
#ifndef MSG_OOB
#define MSG_OOB 0x10000
#endif
#ifndef SOMAXCONN
#define SOMAXCONN 128
#endif

#ifdef __cplusplus
extern "C" {
#endif
int setsockopt(int, int, int, const void *, socklen_t);
int socket(int, int, int);
int socketpair(int, int, int, int[2]);
int bind(int, const struct sockaddr *, socklen_t);
int connect(int, const struct sockaddr *, socklen_t);
int listen(int, int);
int getsockname(int, struct sockaddr *__restrict, socklen_t *__restrict);
int getpeername(int, struct sockaddr *__restrict, socklen_t *__restrict);
ssize_t sendto(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
ssize_t recvfrom(int, void *__restrict, size_t, int, struct sockaddr *__restrict, socklen_t *__restrict);
#ifdef __cplusplus
}
#endif
#endif

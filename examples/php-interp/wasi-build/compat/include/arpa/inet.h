/*
 * wasi-compat: arpa/inet.h. wasi-libc hides the legacy IPv4 text
 * conversions inet_addr()/inet_ntoa(); they are pure string functions and
 * PHP uses them (gethostbyname() fast path, ip2long()...). ../src/compat.c
 * implements them on top of inet_aton()/inet_ntop(), which wasi-libc has.
 */
#ifndef _WASI_COMPAT_ARPA_INET_H
#define _WASI_COMPAT_ARPA_INET_H
#include_next <arpa/inet.h>
#ifdef __cplusplus
extern "C" {
#endif
in_addr_t inet_addr(const char *);
char *inet_ntoa(struct in_addr);
#ifdef __cplusplus
}
#endif
#endif

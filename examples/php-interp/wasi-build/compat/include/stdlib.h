/*
 * wasi-compat: stdlib.h. wasi-libc (2022) has no mkstemp(); PHP's
 * tempnam()/tmpfile()/php://temp spill files need it. ../src/compat.c has
 * a real implementation (random name from arc4random_buf(), then
 * open(O_CREAT|O_EXCL)), which works in any preopened, writable directory.
 */
#ifndef _WASI_COMPAT_STDLIB_H
#define _WASI_COMPAT_STDLIB_H
#include_next <stdlib.h>
#ifdef __cplusplus
extern "C" {
#endif
int mkstemp(char *);
#ifdef __cplusplus
}
#endif
#endif

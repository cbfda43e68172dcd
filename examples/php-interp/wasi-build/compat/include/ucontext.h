/*
 * wasi-compat: ucontext.h. WebAssembly cannot switch C stacks, so PHP
 * Fibers cannot work. PHP's configure insists on either its boost.context
 * assembly (none exists for wasm32) or ucontext.h, so this header lets it
 * pick the ucontext flavour; patches/0002 makes Fiber creation throw
 * before any of these functions could run, and they only fail (ENOSYS).
 */
#ifndef _UCONTEXT_H
#define _UCONTEXT_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct __wasi_compat_stack {
	void *ss_sp;
	int ss_flags;
	size_t ss_size;
} __wasi_compat_stack_t;
typedef struct ucontext {
	unsigned long uc_flags;
	struct ucontext *uc_link;
	__wasi_compat_stack_t uc_stack;
} ucontext_t;
int getcontext(ucontext_t *);
void makecontext(ucontext_t *, void (*)(void), int, ...);
int setcontext(const ucontext_t *);
int swapcontext(ucontext_t *, const ucontext_t *);
#ifdef __cplusplus
}
#endif
#endif

/*
 * setjmp.h for wasm32-wasi builds made with Debian bookworm's wasi-libc
 * (0.0~git20220510), which ships no setjmp.h at all.
 *
 * There is no way to save and restore a WebAssembly call stack from C, so
 * setjmp/longjmp are implemented by the compiler: every translation unit
 * is compiled with `-mllvm -wasm-enable-sjlj`, which makes LLVM rewrite
 * each setjmp() call site into a call to __wasm_setjmp() plus a
 * WebAssembly exception handler, and each longjmp() into a call to
 * __wasm_longjmp(), which throws a Wasm exception (tag __c_longjmp).
 * The three runtime functions live in ../src/wasm_sjlj_rt.c.
 *
 * The layout follows musl / newer wasi-libc (which added the same support
 * in 2023), so a jmp_buf is large enough for the runtime's bookkeeping.
 * sigsetjmp/siglongjmp are deliberately NOT declared: PHP's configure then
 * leaves HAVE_SIGSETJMP undefined and zend_portability.h uses plain
 * setjmp()/longjmp(), the only names the LLVM pass recognises.
 */
#ifndef _SETJMP_H
#define _SETJMP_H

#ifdef __cplusplus
extern "C" {
#endif

#if !defined(__wasm_exception_handling__)
#error "setjmp/longjmp on wasm32-wasi need -mllvm -wasm-enable-sjlj (Wasm exception handling)"
#endif

typedef struct __jmp_buf_tag {
	unsigned long __jb[8];
	unsigned long __fl;
	unsigned long __ss[128 / sizeof(long)];
} jmp_buf[1];

int setjmp(jmp_buf) __attribute__((__returns_twice__));
_Noreturn void longjmp(jmp_buf, int);
#define setjmp setjmp

#ifdef __cplusplus
}
#endif

#endif

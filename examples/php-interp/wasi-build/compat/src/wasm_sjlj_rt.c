/*
 * Runtime support for LLVM's WebAssembly setjmp/longjmp lowering
 * (`-mllvm -wasm-enable-sjlj`, LLVM 19 naming). Debian bookworm's
 * wasi-libc predates wasi-libc's own libsetjmp, so we provide the three
 * functions the lowered code calls. Written from the contract that LLVM's
 * WebAssemblyLowerEmscriptenEHSjLj pass documents:
 *
 *  - __wasm_setjmp(env, label, func_invocation_id): called where setjmp()
 *    was; records which setjmp site (label, > 0) of which *invocation* of
 *    the calling function (func_invocation_id, a unique stack address)
 *    owns env.
 *  - __wasm_setjmp_test(env, func_invocation_id): called by the handler
 *    that caught a longjmp exception; returns the label to resume at when
 *    env belongs to this invocation, 0 otherwise (then the handler
 *    rethrows to outer frames).
 *  - __wasm_longjmp(env, val): throws the C longjmp exception (tag index 1
 *    = __c_longjmp) carrying {env, val}; the handler reads both back.
 *
 * A longjmp to a jmp_buf whose function already returned is undefined
 * behaviour in C; here it unwinds to the outermost frame and traps.
 */
#include <stdint.h>
#include <stddef.h>

struct wasm_jmp_buf {
	void *func_invocation_id;
	uint32_t label;
	struct wasm_jmp_arg {
		void *env;
		int val;
	} arg;
};

_Static_assert(sizeof(struct wasm_jmp_buf) <= 8 * sizeof(unsigned long) + sizeof(unsigned long) + 128,
	"jmp_buf too small");

void __wasm_setjmp(void *env, uint32_t label, void *func_invocation_id)
{
	struct wasm_jmp_buf *jb = env;
	if (label == 0 || func_invocation_id == NULL) {
		__builtin_trap();
	}
	jb->func_invocation_id = func_invocation_id;
	jb->label = label;
}

uint32_t __wasm_setjmp_test(void *env, void *func_invocation_id)
{
	struct wasm_jmp_buf *jb = env;
	if (jb->label == 0 || func_invocation_id == NULL) {
		__builtin_trap();
	}
	if (jb->func_invocation_id == func_invocation_id) {
		return jb->label;
	}
	return 0;
}

void __wasm_longjmp(void *env, int val)
{
	struct wasm_jmp_buf *jb = env;
	struct wasm_jmp_arg *arg = &jb->arg;
	/* C says longjmp(env, 0) makes setjmp return 1. */
	if (val == 0) {
		val = 1;
	}
	arg->env = env;
	arg->val = val;
	__builtin_wasm_throw(1, arg); /* 1 == C_LONGJMP tag */
}

#!/bin/sh
# Builds the PHP CLI for wasm32-wasip1 inside wasmpack/php-builder
# (scripts/php-builder-image), which holds the toolchain, wasm-opt and PHP's
# release tarball ($PHP_TARBALL, version $PHP_VERSION).
#   build.sh OUT_DIR        leaves OUT_DIR/php.wasm
# Logs go to OUT_DIR/../php-build-logs; on failure their tail is printed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$1
work=/tmp/php-wasi
src=$work/php-$PHP_VERSION
logs=$(dirname "$out")/php-build-logs
mkdir -p "$work" "$out" "$logs"
jobs=$(nproc)

cc="clang-19 --target=wasm32-wasi"
# wasi-libc's emulations, each needing a -D to expose its header and a -l:
#   getpid, signal (signal()/raise(), no delivery), process clocks (clock(),
#   times(), getrusage() from WASI's CPU-time clock) and mman (mmap() of
#   files by reading them into memory; PHP's plain-file streams use it, its
#   allocator does not: patches/0001).
emulated="-D_WASI_EMULATED_GETPID -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_PROCESS_CLOCKS -D_WASI_EMULATED_MMAN"
emulated_libs="-lwasi-emulated-getpid -lwasi-emulated-signal -lwasi-emulated-process-clocks -lwasi-emulated-mman"
# -wasm-enable-sjlj: setjmp/longjmp (PHP's error bailout) as Wasm exceptions,
# with the runtime in compat/src/wasm_sjlj_rt.c.
cflags="-O2 -g0 -mllvm -wasm-enable-sjlj $emulated -isystem $here/compat/include"

fail() { echo "php-wasi: $1 failed; last lines of $2:" >&2; tail -40 "$2" >&2; exit 1; }

echo "php-wasi: compat library" >&2
for f in wasm_sjlj_rt compat; do
  $cc $cflags -Wall -Werror -c "$here/compat/src/$f.c" -o "$work/$f.o"
done
llvm-ar-19 rcs "$work/libwasi-compat.a" "$work/wasm_sjlj_rt.o" "$work/compat.o"

echo "php-wasi: PHP $PHP_VERSION sources, patches" >&2
tar -C "$work" -xf "$PHP_TARBALL"
for p in "$here"/patches/*.patch; do
  echo "  $(basename "$p")" >&2
  patch -d "$src" -p1 --quiet --forward <"$p"
done

echo "php-wasi: configure" >&2
# Link options go into LIBS: PHP's configure drops LDFLAGS before it writes
# the Makefile; LIBS ends up on every link line.
#   --wrap=__wasi_proc_exit  exit statuses WASI can carry (compat/src/compat.c)
#   -z stack-size=8 MiB      the C stack lives in linear memory; wasm-ld's
#                            default 64 KiB is far too small for PHP
libs="-L$work -lwasi-compat $emulated_libs -Wl,--wrap=__wasi_proc_exit -Wl,-z,stack-size=8388608"
(
  cd "$src"
  # --disable-all: core and the always-on extensions (standard, date, json,
  # pcre, random, spl, reflection, hash), then the few enabled below.
  ./configure --host=wasm32-unknown-wasi --prefix=/usr/local \
    --disable-all --enable-cli --disable-cgi --disable-phpdbg --without-pear \
    --disable-opcache --disable-zend-signals --without-pcre-jit \
    --disable-fiber-asm --disable-gcc-global-regs --disable-ipv6 \
    --enable-ctype --enable-tokenizer --enable-filter \
    --enable-mbstring --disable-mbregex --enable-bcmath --enable-calendar \
    CC="$cc" CPP="$cc -E" AR=llvm-ar-19 RANLIB=llvm-ranlib-19 NM=llvm-nm-19 STRIP=llvm-strip-19 \
    CFLAGS="$cflags" LDFLAGS="" LIBS="$libs"
) >"$logs/configure.log" 2>&1 || fail configure "$logs/configure.log"
# libtool links programs with --export-dynamic (for dl()'d extensions, which
# WASI cannot load); on wasm that exports every ZEND_API symbol and keeps
# its code alive. A WASI command needs only _start and its memory.
sed -i 's/^export_dynamic_flag_spec=.*/export_dynamic_flag_spec=""/' "$src/libtool"

echo "php-wasi: make -j$jobs cli" >&2
# PHP embeds __DATE__/__TIME__ (php -v); clang takes them from
# SOURCE_DATE_EPOCH: the release's own date, so the module is reproducible.
SOURCE_DATE_EPOCH=$(stat -c %Y "$src/main/php_version.h") \
  make -C "$src" -j"$jobs" cli >"$logs/make.log" 2>&1 || fail make "$logs/make.log"

echo "php-wasi: exception handling to exnref" >&2
# clang 19 emits the legacy exception-handling instructions; wasmtime
# implements the standardised exnref form. -g keeps function names for
# readable traps; the DWARF of Debian's prebuilt libc.a is dropped.
"$WASM_OPT" -g --strip-dwarf --translate-to-exnref "$src/sapi/cli/php" -o "$out/php.wasm"
ls -l "$out/php.wasm" >&2

/*
 * wasi-compat: definitions for the POSIX functions that PHP references but
 * WASI preview 1 (and so wasi-libc) does not have. Nothing here pretends
 * to succeed at something it cannot do: calls that would need processes,
 * sockets, name resolution or a user database fail with the errno a POSIX
 * system without that facility would give, and PHP reports them as usual
 * warnings / false returns. The few that "succeed" are the ones whose
 * honest answer on WASI is trivial (no owners: uid/gid 0; no permission
 * bits: umask is remembered but has no effect).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netdb.h>
#include <pwd.h>
#include <grp.h>
#include <syslog.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <ucontext.h>

/* ---- sockets: WASI p1 cannot create or address sockets ---- */
int socket(int d, int t, int p) { (void)d; (void)t; (void)p; errno = ENOSYS; return -1; }
int socketpair(int d, int t, int p, int sv[2]) { (void)d; (void)t; (void)p; (void)sv; errno = ENOSYS; return -1; }
int bind(int s, const struct sockaddr *a, socklen_t l) { (void)s; (void)a; (void)l; errno = ENOSYS; return -1; }
int connect(int s, const struct sockaddr *a, socklen_t l) { (void)s; (void)a; (void)l; errno = ENOSYS; return -1; }
int listen(int s, int b) { (void)s; (void)b; errno = ENOSYS; return -1; }
int getsockname(int s, struct sockaddr *__restrict a, socklen_t *__restrict l) { (void)s; (void)a; (void)l; errno = ENOSYS; return -1; }
int getpeername(int s, struct sockaddr *__restrict a, socklen_t *__restrict l) { (void)s; (void)a; (void)l; errno = ENOTCONN; return -1; }
ssize_t sendto(int s, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l) { (void)s; (void)b; (void)n; (void)f; (void)a; (void)l; errno = ENOSYS; return -1; }
ssize_t recvfrom(int s, void *__restrict b, size_t n, int f, struct sockaddr *__restrict a, socklen_t *__restrict l) { (void)s; (void)b; (void)n; (void)f; (void)a; (void)l; errno = ENOSYS; return -1; }

/* ---- name resolution: there is no resolver ---- */
int h_errno;
int getaddrinfo(const char *__restrict n, const char *__restrict s, const struct addrinfo *__restrict h, struct addrinfo **__restrict r)
{ (void)n; (void)s; (void)h; if (r) *r = NULL; return EAI_FAIL; }
void freeaddrinfo(struct addrinfo *ai) { (void)ai; }
int getnameinfo(const struct sockaddr *__restrict sa, socklen_t sl, char *__restrict h, socklen_t hl, char *__restrict s, socklen_t svl, int f)
{ (void)sa; (void)sl; (void)h; (void)hl; (void)s; (void)svl; (void)f; return EAI_FAIL; }
const char *gai_strerror(int e) { (void)e; return "Name resolution is not available on WASI"; }
struct hostent *gethostbyname(const char *n) { (void)n; h_errno = NO_RECOVERY; return NULL; }
struct hostent *gethostbyaddr(const void *a, socklen_t l, int t) { (void)a; (void)l; (void)t; h_errno = NO_RECOVERY; return NULL; }
struct servent *getservbyname(const char *n, const char *p) { (void)n; (void)p; return NULL; }
struct servent *getservbyport(int port, const char *p) { (void)port; (void)p; return NULL; }
struct protoent *getprotobyname(const char *n) { (void)n; return NULL; }
struct protoent *getprotobynumber(int p) { (void)p; return NULL; }
const char *hstrerror(int e) { (void)e; return "Name resolution is not available on WASI"; }

/* ---- users and groups: none ---- */
struct passwd *getpwnam(const char *n) { (void)n; errno = ENOENT; return NULL; }
struct passwd *getpwuid(uid_t u) { (void)u; errno = ENOENT; return NULL; }
int getpwnam_r(const char *n, struct passwd *p, char *b, size_t l, struct passwd **r) { (void)n; (void)p; (void)b; (void)l; *r = NULL; return ENOENT; }
int getpwuid_r(uid_t u, struct passwd *p, char *b, size_t l, struct passwd **r) { (void)u; (void)p; (void)b; (void)l; *r = NULL; return ENOENT; }
struct group *getgrnam(const char *n) { (void)n; errno = ENOENT; return NULL; }
struct group *getgrgid(gid_t g) { (void)g; errno = ENOENT; return NULL; }
int getgrnam_r(const char *n, struct group *g, char *b, size_t l, struct group **r) { (void)n; (void)g; (void)b; (void)l; *r = NULL; return ENOENT; }
int getgrgid_r(gid_t gid, struct group *g, char *b, size_t l, struct group **r) { (void)gid; (void)g; (void)b; (void)l; *r = NULL; return ENOENT; }
/* wasi-libc's stat() reports st_uid = st_gid = 0 for every file, so the
 * process "is" uid/gid 0 as far as ownership checks are concerned. */
uid_t getuid(void) { return 0; }
uid_t geteuid(void) { return 0; }
gid_t getgid(void) { return 0; }
gid_t getegid(void) { return 0; }
pid_t getppid(void) { return 1; }

/* ---- file ownership / permissions: WASI has neither ---- */
int chown(const char *p, uid_t u, gid_t g) { (void)p; (void)u; (void)g; errno = ENOSYS; return -1; }
int fchown(int fd, uid_t u, gid_t g) { (void)fd; (void)u; (void)g; errno = ENOSYS; return -1; }
int lchown(const char *p, uid_t u, gid_t g) { (void)p; (void)u; (void)g; errno = ENOSYS; return -1; }
int chmod(const char *p, mode_t m) { (void)p; (void)m; errno = ENOSYS; return -1; }
int fchmod(int fd, mode_t m) { (void)fd; (void)m; errno = ENOSYS; return -1; }
static mode_t compat_umask = 022;
mode_t umask(mode_t m) { mode_t old = compat_umask; compat_umask = m & 0777; return old; }

/* ---- descriptors: WASI p1 cannot duplicate a descriptor ---- */
int dup(int fd) { (void)fd; errno = ENOSYS; return -1; }
int dup2(int fd, int fd2) { (void)fd; (void)fd2; errno = ENOSYS; return -1; }

/* ---- processes: no children can exist ---- */
pid_t wait(int *s) { (void)s; errno = ECHILD; return -1; }
pid_t waitpid(pid_t p, int *s, int o) { (void)p; (void)s; (void)o; errno = ECHILD; return -1; }

/* ---- syslog: no daemon; keep the message visible on stderr ---- */
static const char *compat_ident = "php";
void openlog(const char *ident, int opt, int fac) { (void)opt; (void)fac; if (ident) compat_ident = ident; }
void closelog(void) { }
int setlogmask(int m) { (void)m; return 0xff; }
void syslog(int pri, const char *fmt, ...)
{
	va_list ap;
	(void)pri;
	fprintf(stderr, "%s: ", compat_ident);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- ucontext: no stack switching in WebAssembly (see ucontext.h) ---- */
int getcontext(ucontext_t *c) { (void)c; errno = ENOSYS; return -1; }
void makecontext(ucontext_t *c, void (*f)(void), int argc, ...) { (void)c; (void)f; (void)argc; __builtin_trap(); }
int setcontext(const ucontext_t *c) { (void)c; errno = ENOSYS; return -1; }
int swapcontext(ucontext_t *o, const ucontext_t *c) { (void)o; (void)c; __builtin_trap(); }

/* ---- more sockets ---- */
int setsockopt(int s, int l, int o, const void *v, socklen_t n) { (void)s; (void)l; (void)o; (void)v; (void)n; errno = ENOSYS; return -1; }

/* ---- processes via the shell: impossible ---- */
FILE *popen(const char *c, const char *m) { (void)c; (void)m; errno = ENOSYS; return NULL; }
int pclose(FILE *f) { (void)f; errno = ECHILD; return -1; }

/* ---- groups / descriptor table ---- */
int getgroups(int n, gid_t list[]) { (void)n; (void)list; return 0; }
/* No descriptor limit can be queried in WASI; INT_MAX is what PHP itself
 * uses when it has no getdtablesize(). */
int getdtablesize(void) { return 0x7fffffff; }

/* ---- mkstemp: real implementation ---- */
int mkstemp(char *template)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t len = strlen(template);
	if (len < 6 || memcmp(template + len - 6, "XXXXXX", 6) != 0) {
		errno = EINVAL;
		return -1;
	}
	for (int attempt = 0; attempt < 100; attempt++) {
		unsigned char rnd[6];
		arc4random_buf(rnd, sizeof rnd);
		for (int i = 0; i < 6; i++) {
			template[len - 6 + i] = chars[rnd[i] % (sizeof chars - 1)];
		}
		int fd = open(template, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd >= 0 || errno != EEXIST) {
			return fd;
		}
	}
	errno = EEXIST;
	return -1;
}

/* ---- IPv4 text conversions ---- */
in_addr_t inet_addr(const char *p)
{
	struct in_addr a;
	if (!inet_aton(p, &a)) {
		return (in_addr_t)-1; /* INADDR_NONE */
	}
	return a.s_addr;
}

char *inet_ntoa(struct in_addr in)
{
	static char buf[16];
	inet_ntop(AF_INET, &in, buf, sizeof buf);
	return buf;
}

/* ---- exit statuses ----
 * WASI p1 exit codes are u32, but wasmtime (the runtime php.wasm targets;
 * wasmtime-wasi's proc_exit) accepts only 0..125 and turns anything larger
 * into an engine error that loses the code. PHP exits with 255 after a
 * fatal error and with exit(N) & 0xff semantics on POSIX. The link uses
 * -Wl,--wrap=__wasi_proc_exit so every exit path (main's return, exit(),
 * _Exit()) comes here: reduce the status like a POSIX kernel does
 * (status & 0xff), then map what WASI cannot carry (126..255) to 125.
 * So a PHP fatal error exits with 125, exit(3) with 3. */
#include <wasi/api.h>
_Noreturn void __real___wasi_proc_exit(__wasi_exitcode_t rval);
_Noreturn void __wrap___wasi_proc_exit(__wasi_exitcode_t rval)
{
	rval &= 0xff;
	if (rval >= 126) {
		rval = 125;
	}
	__real___wasi_proc_exit(rval);
}

/*
 * wasi-compat: grp.h. WASI has no group database: lookups find nothing.
 */
#ifndef _GRP_H
#define _GRP_H
#include <sys/types.h>
#ifdef __cplusplus
extern "C" {
#endif
struct group {
	char *gr_name;
	char *gr_passwd;
	gid_t gr_gid;
	char **gr_mem;
};
struct group *getgrnam(const char *);
struct group *getgrgid(gid_t);
int getgrnam_r(const char *, struct group *, char *, size_t, struct group **);
int getgrgid_r(gid_t, struct group *, char *, size_t, struct group **);
#ifdef __cplusplus
}
#endif
#endif

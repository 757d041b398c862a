/* sys.c -- privilege drop, sd_notify without libsystemd, address text (see sys.h). */
#include "config.h"
#include "ctl/sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int ctl_lookup_account(const char *user, const char *group, uid_t *uid, gid_t *gid, char *err,
		       size_t errlen)
{
	char buf[4096];
	struct passwd pw, *pwr = NULL;
	int e = getpwnam_r(user, &pw, buf, sizeof(buf), &pwr);
	if (!pwr) {
		snprintf(err, errlen, "user '%s': %s", user, e ? strerror(e) : "no such user");
		return -1;
	}
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	if (!group)
		return 0;
	struct group gr, *grr = NULL;
	e = getgrnam_r(group, &gr, buf, sizeof(buf), &grr);
	if (!grr) {
		snprintf(err, errlen, "group '%s': %s", group, e ? strerror(e) : "no such group");
		return -1;
	}
	*gid = gr.gr_gid;
	return 0;
}

int ctl_drop_privileges(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (getuid() == uid && geteuid() == uid && getgid() == gid && getegid() == gid)
		return 0;
	/* Order matters: groups and gid need privileges that setuid gives up. */
	if (setgroups(1, &gid) < 0) {
		snprintf(err, errlen, "setgroups(%u): %s", (unsigned)gid, strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) < 0) {
		snprintf(err, errlen, "setgid(%u): %s", (unsigned)gid, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) < 0) {
		snprintf(err, errlen, "setuid(%u): %s", (unsigned)uid, strerror(errno));
		return -1;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "root privileges could be regained after setuid(%u)",
			 (unsigned)uid);
		return -1;
	}
	return 0;
}

int ctl_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;

	if (!path || !path[0])
		return 0;
	len = strlen(path);
	/* An absolute path, or '@' for the abstract namespace (Linux). */
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	close(fd);
	return n < 0 ? -1 : 1;
}

void ctl_addr_split(const struct sockaddr_storage *ss, char *host, size_t size, unsigned *port)
{
	host[0] = '\0';
	*port = 0;
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, (socklen_t)size);
		*port = ntohs(s6->sin6_port);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, (socklen_t)size);
		*port = ntohs(s4->sin_port);
	} else {
		snprintf(host, size, "?");
	}
}

void ctl_addr_text(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;
	ctl_addr_split(ss, host, sizeof(host), &port);
	if (ss->ss_family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", host, port);
	else
		snprintf(buf, size, "%s:%u", host, port);
}

/* sys.h -- process hygiene: privilege drop, systemd readiness notification, address text. */
#ifndef WAYMARK_CTL_SYS_H
#define WAYMARK_CTL_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Look up `user` (and `group`, or the user's primary group when NULL).
 * 0, or -1 with the reason in `err`. */
int ctl_lookup_account(const char *user, const char *group, uid_t *uid, gid_t *gid, char *err,
		       size_t errlen);
/* Become uid:gid for good: supplementary groups dropped, then gid, then
 * uid; checks that root cannot be regained. Call before any thread is
 * started (setuid applies to the calling thread in the kernel; glibc
 * broadcasts it, but nothing should depend on that). Nothing is done when
 * the process already runs as uid:gid. 0, or -1 with the reason in `err`. */
int ctl_drop_privileges(uid_t uid, gid_t gid, char *err, size_t errlen);

/* Send a state line to systemd ("READY=1", "RELOADING=1", "STOPPING=1";
 * several may be joined with newlines) when $NOTIFY_SOCKET is set; does
 * nothing otherwise. The sd_notify(3) datagram protocol, without linking
 * libsystemd. Returns 1 sent, 0 not under systemd, -1 error. */
int ctl_notify(const char *state);

/* "127.0.0.1:53" / "[::1]:53" for an IPv4 or IPv6 address. */
void ctl_addr_text(const struct sockaddr_storage *ss, char *buf, size_t size);
/* The address alone ("::1") and the port. */
void ctl_addr_split(const struct sockaddr_storage *ss, char *host, size_t size, unsigned *port);

#endif

/* The listening socket: a path we create (with a pid file lock) or an inherited fd. */
#include "vhost/vhost.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static void listener_reset(struct vu_listener *l)
{
	l->listen_fd = -1;
	l->pid_fd = -1;
	l->socket_path = NULL;
	l->pid_path = NULL;
}

/* <path>.pid, locked for as long as we live: a second daemon on the same socket stops here
 * instead of unlinking the first one's socket. */
static int lock_pid_file(struct vu_listener *l)
{
	char buf[32];
	int fd, r, n;

	fd = open(l->pid_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		log_error("cannot create the pid file %s: %s", l->pid_path, strerror(-r));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		if (r == -EWOULDBLOCK)
			log_error("another daemon is already serving socket %s (it holds the lock "
				  "on %s)",
				  l->socket_path, l->pid_path);
		else
			log_error("cannot lock the pid file %s: %s", l->pid_path, strerror(-r));
		close(fd);
		return r == -EWOULDBLOCK ? -EADDRINUSE : r;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_warn("cannot write our pid to %s: %s", l->pid_path, strerror(errno));
	l->pid_fd = fd;
	return 0;
}

/* A group's entry holds its member list: a large group needs more than a page (ERANGE). */
static int resolve_group(const char *group, gid_t *gid)
{
	struct group g, *res = NULL;
	size_t cap = 4096;
	char *buf = NULL;
	int r;

	do {
		char *nb = realloc(buf, cap);

		if (!nb) {
			r = ENOMEM;
			break;
		}
		buf = nb;
		r = getgrnam_r(group, &g, buf, cap, &res);
		cap *= 2;
	} while (r == ERANGE && cap <= (1u << 24));
	if (r == 0 && res)
		*gid = res->gr_gid;
	free(buf);
	if (r != 0 || !res) {
		log_error("--socket-group %s: no such group%s%s", group, r ? ": " : "",
			  r ? strerror(r) : "");
		return r ? -r : -ENOENT;
	}
	return 0;
}

static const char *file_kind(mode_t m)
{
	if (S_ISREG(m))
		return "a regular file";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISFIFO(m))
		return "a FIFO";
	return "a device node";
}

/* Only a stale socket is replaced: a mistyped --socket-path naming a disk image or a
 * configuration file must not cost the user that file (the Rust daemon removes it). */
static int refuse_non_socket(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		int r = -errno;

		if (r == -ENOENT)
			return 0;
		log_error("cannot listen on socket %s: %s", path, strerror(-r));
		return r;
	}
	if (S_ISSOCK(st.st_mode))
		return 0;
	log_error("cannot listen on socket %s: it exists and is %s, not a socket; not removing it",
		  path, file_kind(st.st_mode));
	return -EEXIST;
}

static int bind_socket(struct vu_listener *l, const char *group)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	gid_t gid = 0;
	int fd, r;

	if (group && resolve_group(group, &gid) < 0)
		return -EINVAL;
	memcpy(sa.sun_path, l->socket_path, strlen(l->socket_path) + 1);
	r = refuse_non_socket(l->socket_path);
	if (r < 0)
		return r;
	if (unlink(l->socket_path) < 0 && errno != ENOENT) {
		r = -errno;
		log_error("cannot remove the stale socket %s: %s", l->socket_path, strerror(-r));
		return r;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(group ? 0007 : 0077);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (r == 0 && group && chown(l->socket_path, (uid_t)-1, gid) < 0)
		r = -errno;
	if (r == 0 && listen(fd, 1) < 0)
		r = -errno;
	if (r < 0) {
		log_error("cannot listen on socket %s: %s", l->socket_path, strerror(-r));
		close(fd);
		return r;
	}
	l->listen_fd = fd;
	return 0;
}

int vu_listen_path(const char *path, const char *group, struct vu_listener *l)
{
	struct sockaddr_un sa;
	int r;

	listener_reset(l);
	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path)) {
		log_error("socket path %s is empty or longer than %zu bytes", path ? path : "",
			  sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	l->socket_path = strdup(path);
	if (!l->socket_path || asprintf(&l->pid_path, "%s.pid", path) < 0) {
		l->pid_path = NULL;
		r = -ENOMEM;
		goto out_free;
	}
	r = lock_pid_file(l);
	if (r < 0)
		goto out_free;
	r = bind_socket(l, group);
	if (r < 0)
		goto out_unlock;
	return 0;
out_unlock:
	unlink(l->pid_path); /* before the lock goes: never another daemon's pid file */
	close(l->pid_fd);
out_free:
	free(l->socket_path);
	free(l->pid_path);
	listener_reset(l);
	return r;
}

int vu_listen_fd(int fd, struct vu_listener *l)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);

	listener_reset(l);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
		log_error("--fd=%d is not a stream socket", fd);
		return -ENOTSOCK;
	}
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) {
		log_error("--fd=%d is not a listening socket", fd);
		return -EINVAL;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	l->listen_fd = fd;
	return 0;
}

int vu_accept(struct vu_listener *l)
{
	int fd;

	do {
		fd = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		int r = -errno;

		log_error("accepting a vhost-user connection on %s failed: %s",
			  l->socket_path ? l->socket_path : "the inherited socket", strerror(-r));
		return r;
	}
	/* One frontend, as with the Rust daemon (it drops its listener after the accept): a
	 * second one is refused at once (ECONNREFUSED) instead of waiting unanswered in the
	 * backlog. shutdown, not close: the namespace sandbox's waiting parent holds a copy. */
	if (shutdown(l->listen_fd, SHUT_RDWR) < 0)
		log_warn("no longer listening on %s failed: %s; a second frontend would wait "
			 "unanswered", l->socket_path ? l->socket_path : "the inherited socket",
			 strerror(errno));
	return fd;
}

void vu_listener_close(struct vu_listener *l)
{
	if (l->listen_fd >= 0)
		close(l->listen_fd);
	if (l->socket_path)
		unlink(l->socket_path);
	if (l->pid_path)
		unlink(l->pid_path);
	if (l->pid_fd >= 0)
		close(l->pid_fd);
	free(l->socket_path);
	free(l->pid_path);
	listener_reset(l);
}

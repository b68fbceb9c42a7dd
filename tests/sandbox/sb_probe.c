/*
 * Test-only stand-in for the daemon's start-up: enters the sandbox with the daemon's library
 * and options, checks what the filesystem layer gets, prints "ready", then waits to be
 * inspected through /proc or killed. With --forbidden it makes a syscall outside the allow-list
 * (personality) after the filter, and prints what came back, to test kill/log/trap.
 *
 * Usage: sb_probe --shared-dir=D [--sandbox=M] [--seccomp=A] [--modcaps=S] [--file-handles]
 *                 [--uid-map=M]... [--gid-map=M]... [--rlimit-nofile=N] [--forbidden]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "log.h"
#include "sandbox/sandbox.h"

struct probe {
	struct sb_opts so;
	struct sb_caps_opts co;
	enum sb_seccomp sc;
	struct sb_idmap uids[8], gids[8];
	bool forbidden, rlimit_set;
	uint64_t rlimit;
};

static int parse_enum(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcasecmp(v, names[i]) == 0)
			return i;
	fprintf(stderr, "sb_probe: bad value %s\n", v);
	exit(2);
}

static void add_map(struct sb_idmap *maps, size_t *n, const char *v)
{
	if (*n >= 8 || sb_idmap_parse(v, &maps[*n]) < 0) {
		fprintf(stderr, "sb_probe: bad map %s\n", v);
		exit(2);
	}
	(*n)++;
}

static void parse(struct probe *p, int argc, char **argv)
{
	static const char *const modes[] = { "namespace", "chroot", "none" };
	static const char *const actions[] = { "none", "kill", "log", "trap" };
	static const struct option opts[] = {
		{ "shared-dir", required_argument, NULL, 'd' },
		{ "sandbox", required_argument, NULL, 's' },
		{ "seccomp", required_argument, NULL, 'c' },
		{ "modcaps", required_argument, NULL, 'm' },
		{ "file-handles", no_argument, NULL, 'f' },
		{ "uid-map", required_argument, NULL, 'u' },
		{ "gid-map", required_argument, NULL, 'g' },
		{ "rlimit-nofile", required_argument, NULL, 'r' },
		{ "forbidden", no_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	p->sc = SB_SECCOMP_KILL;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': p->so.shared_dir = optarg; break;
		case 's': p->so.mode = (enum sb_mode)parse_enum(optarg, modes, 3); break;
		case 'c': p->sc = (enum sb_seccomp)parse_enum(optarg, actions, 4); break;
		case 'm': p->co.modcaps = optarg; break;
		case 'f': p->co.file_handles = true; break;
		case 'u': add_map(p->uids, &p->so.n_uid_maps, optarg); break;
		case 'g': add_map(p->gids, &p->so.n_gid_maps, optarg); break;
		case 'r': p->rlimit_set = true; p->rlimit = strtoull(optarg, NULL, 10); break;
		case 'x': p->forbidden = true; break;
		default: exit(2);
		}
	}
	p->so.uid_maps = p->uids;
	p->so.gid_maps = p->gids;
}

/* What the passthrough filesystem will do: open the root O_PATH, reopen it through
 * /proc/self/fd, read mountinfo. */
static int check_env(const struct sb_env *env)
{
	char name[16], buf[256];
	int path_fd = open(env->root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (path_fd < 0) {
		fprintf(stderr, "sb_probe: open root %s: %s\n", env->root_dir, strerror(errno));
		return -1;
	}
	snprintf(name, sizeof(name), "%d", path_fd);
	int dir_fd = openat(env->proc_self_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		fprintf(stderr, "sb_probe: reopen via proc_self_fd: %s\n", strerror(errno));
		return -1;
	}
	ssize_t n = pread(env->mountinfo_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0) {
		fprintf(stderr, "sb_probe: read mountinfo: %s\n", strerror(errno));
		return -1;
	}
	close(dir_fd);
	close(path_fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct probe p = { 0 };
	struct sb_env env;

	parse(&p, argc, argv);
	log_init(LOG_LVL_INFO, false);
	if (sb_check(&p.so) < 0 || sb_caps_check(&p.co) < 0)
		return 1;
	sb_set_rlimit_nofile(p.rlimit_set, p.rlimit);
	if (sb_enter(&p.so, &env) < 0)
		return 1;
	if (check_env(&env) < 0)
		return 1;
	if (sb_drop_caps(&p.co) < 0 || sb_seccomp_install(p.sc, false) < 0)
		return 1;
	printf("ready root=%s\n", env.root_dir);
	fflush(stdout);
	if (p.forbidden) {
		long r = syscall(SYS_personality, 0xffffffffUL);
		printf("forbidden syscall returned %ld errno %d\n", r, r < 0 ? errno : 0);
		fflush(stdout);
		_exit(0); /* no exit-time work under the filter (a sanitizer's leak check) */
	}
	for (;;)
		sleep(1000); /* clock_nanosleep is in the allow-list; pause is not */
}

#!/usr/bin/env python3
"""Locks, O_TMPFILE and statx through a virtiofsd-fusedev mount started with --posix-lock
--flock, checked against the shared directory on the host.

Usage: locks_ops.py <mountpoint> <shared dir>
Prints one line per failed check and "N passed, M failed" at the end; exit status 1 on failure.
"""
import ctypes
import errno
import fcntl
import os
import signal
import struct
import subprocess
import sys
import time

MNT, SRC = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(what, cond):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}")


def in_child(fn):
    """Run fn() in a forked process (a lock owner of its own); returns its exit code."""
    pid = os.fork()
    if pid == 0:
        try:
            code = fn()
        except BaseException as e:  # noqa: BLE001 - report anything as a code
            print(f"child: {e!r}")
            code = 99
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def try_lockf(path, kind, start=0, length=0):
    """0 if a non-blocking POSIX lock could be taken by a fresh process, 1 if refused."""
    def body():
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.lockf(fd, kind | fcntl.LOCK_NB, length, start)
            return 0
        except OSError as e:
            return 1 if e.errno in (errno.EAGAIN, errno.EACCES) else 2
    return in_child(body)


def try_flock(path, kind):
    def body():
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return 0
        except OSError as e:
            return 1 if e.errno == errno.EWOULDBLOCK else 2
    return in_child(body)


def getlk(fd, kind, start=0, length=0):
    """F_GETLK: (type, start, len) of the first conflicting lock."""
    req = struct.pack("hhqqi", kind, os.SEEK_SET, start, length, 0)
    res = fcntl.fcntl(fd, fcntl.F_GETLK, req + b"\0" * 4)
    t, _, s, ln, _ = struct.unpack("hhqqi", res[:struct.calcsize("hhqqi")])
    return t, s, ln


def ofd_lock(fd, kind, start=0, length=0, wait=False):
    req = struct.pack("hhqqi", kind, os.SEEK_SET, start, length, 0) + b"\0" * 4
    fcntl.fcntl(fd, fcntl.F_OFD_SETLKW if wait else fcntl.F_OFD_SETLK, req)


LIBC = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, AT_SYMLINK_FOLLOW = -100, 0x400


def link_fd(fd, dst):
    """linkat() through the /proc magic link (Python's os.link would link the link itself)."""
    if LIBC.linkat(AT_FDCWD, f"/proc/self/fd/{fd}".encode(), AT_FDCWD, dst.encode(),
                   AT_SYMLINK_FOLLOW) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def test_tmpfile():
    fd = os.open(MNT, os.O_TMPFILE | os.O_RDWR, 0o600)
    os.write(fd, b"unnamed data")
    check("O_TMPFILE leaves no name", not os.path.exists(f"{SRC}/linked"))
    link_fd(fd, f"{MNT}/linked")
    os.close(fd)
    with open(f"{SRC}/linked", "rb") as f:
        check("O_TMPFILE + linkat: data on the host", f.read() == b"unnamed data")
    check("O_TMPFILE mode", os.stat(f"{SRC}/linked").st_mode & 0o777 == 0o600)
    fd = os.open(MNT, os.O_TMPFILE | os.O_RDWR | os.O_EXCL, 0o600)
    try:
        link_fd(fd, f"{MNT}/never")
        check("O_TMPFILE|O_EXCL cannot be linked", False)
    except OSError as e:
        check("O_TMPFILE|O_EXCL cannot be linked", e.errno == errno.ENOENT)
    os.close(fd)


def test_statx():
    out = subprocess.run(["stat", "-c", "%W", f"{MNT}/linked"], capture_output=True, text=True)
    host = subprocess.run(["stat", "-c", "%W", f"{SRC}/linked"], capture_output=True, text=True)
    check("statx birth time as on the host", out.stdout == host.stdout and out.returncode == 0)


def test_posix_between_processes():
    path = f"{MNT}/posix"
    with open(path, "w") as f:
        f.write("x" * 100)
    fd = os.open(path, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
    check("another process on the mount is refused", try_lockf(path, fcntl.LOCK_EX, 5, 1) == 1)
    check("another process may lock elsewhere", try_lockf(path, fcntl.LOCK_EX, 50, 10) == 0)
    check("the host is refused", try_lockf(f"{SRC}/posix", fcntl.LOCK_EX, 0, 1) == 1)

    def sees():
        cfd = os.open(path, os.O_RDWR)
        t, s, ln = getlk(cfd, fcntl.F_WRLCK)
        return 0 if (t, s, ln) == (fcntl.F_WRLCK, 0, 10) else 1
    check("F_GETLK from another process sees the range", in_child(sees) == 0)
    # Closing any descriptor of the file drops the process's locks (POSIX).
    os.close(os.open(path, os.O_RDONLY))
    check("close() of another fd released the lock", try_lockf(path, fcntl.LOCK_EX, 0, 10) == 0)
    os.close(fd)
    # The host's lock is seen on the mount.
    hfd = os.open(f"{SRC}/posix", os.O_RDWR)
    ofd_lock(hfd, fcntl.F_RDLCK, 20, 5)
    check("a host read lock refuses a write lock on the mount",
          try_lockf(path, fcntl.LOCK_EX, 22, 1) == 1)
    check("a host read lock allows a read lock on the mount",
          try_lockf(path, fcntl.LOCK_SH, 22, 1) == 0)
    os.close(hfd)


def blocked_child(path, locker):
    """Start a child that blocks in locker(fd); returns (pid, read end of its report pipe)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0

        def on_alarm(sig, frame):
            raise InterruptedError()
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(5)
        try:
            fd = os.open(path, os.O_RDWR)
            os.write(w, b"s")
            locker(fd)
            os.write(w, b"g")
        except InterruptedError:
            os.write(w, b"i")
            code = 3
        os._exit(code)
    os.close(w)
    return pid, r


def test_blocking(name, host_lock, host_unlock, locker):
    path = f"{MNT}/{name}"
    with open(path, "w") as f:
        f.write("y")
    hfd = os.open(f"{SRC}/{name}", os.O_RDWR)
    host_lock(hfd)
    pid, r = blocked_child(path, locker)
    check(f"{name}: child started", os.read(r, 1) == b"s")
    time.sleep(0.3)
    check(f"{name}: the mount still answers while a lock waits", os.stat(path).st_size == 1)
    os.set_blocking(r, False)
    try:
        early = os.read(r, 1)
    except BlockingIOError:
        early = b""
    check(f"{name}: the lock waits while the host holds it", early == b"")
    host_unlock(hfd)
    os.set_blocking(r, True)
    check(f"{name}: granted once the host let go", os.read(r, 1) == b"g")
    os.waitpid(pid, 0)
    os.close(r)
    os.close(hfd)


def test_interrupted_wait():
    path = f"{MNT}/intr"
    with open(path, "w") as f:
        f.write("z")
    hfd = os.open(f"{SRC}/intr", os.O_RDWR)
    ofd_lock(hfd, fcntl.F_WRLCK)
    pid, r = blocked_child(path, lambda fd: fcntl.lockf(fd, fcntl.LOCK_EX))
    os.read(r, 1)
    time.sleep(0.2)
    os.kill(pid, signal.SIGALRM)
    check("a signal interrupts the wait", os.read(r, 1) == b"i")
    os.waitpid(pid, 0)
    os.close(r)
    # The daemon gave up the wait: the lock is not taken behind the host's back.
    ofd_lock(hfd, fcntl.F_UNLCK)
    time.sleep(0.2)
    try:
        ofd_lock(hfd, fcntl.F_WRLCK)
        check("nobody holds the lock after the interrupted wait", True)
    except OSError:
        check("nobody holds the lock after the interrupted wait", False)
    os.close(hfd)


def test_flock():
    path = f"{MNT}/fl"
    with open(path, "w") as f:
        f.write("f")
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    check("flock on the mount keeps the host out", try_flock(f"{SRC}/fl", fcntl.LOCK_SH) == 1)
    fcntl.flock(fd, fcntl.LOCK_UN)
    check("flock released for the host", try_flock(f"{SRC}/fl", fcntl.LOCK_EX) == 0)
    hfd = os.open(f"{SRC}/fl", os.O_RDONLY)
    fcntl.flock(hfd, fcntl.LOCK_SH)
    check("a host flock keeps the mount out", try_flock(path, fcntl.LOCK_EX) == 1)
    check("shared flocks coexist", try_flock(path, fcntl.LOCK_SH) == 0)
    fcntl.flock(hfd, fcntl.LOCK_UN)
    os.close(hfd)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.close(fd)  # the last close of the file drops its flock
    time.sleep(0.1)
    check("close() on the mount releases the flock", try_flock(f"{SRC}/fl", fcntl.LOCK_EX) == 0)


test_tmpfile()
test_statx()
test_posix_between_processes()
test_blocking("posixw", lambda h: ofd_lock(h, fcntl.F_WRLCK), lambda h: ofd_lock(h, fcntl.F_UNLCK),
              lambda fd: fcntl.lockf(fd, fcntl.LOCK_EX))
test_blocking("flockw", lambda h: fcntl.flock(h, fcntl.LOCK_EX),
              lambda h: fcntl.flock(h, fcntl.LOCK_UN), lambda fd: fcntl.flock(fd, fcntl.LOCK_EX))
test_interrupted_wait()
test_flock()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

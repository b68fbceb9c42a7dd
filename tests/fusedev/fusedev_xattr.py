#!/usr/bin/python3
"""xattrs, --xattrmap, POSIX ACLs and --translate-uid/gid through a /dev/fuse mount, checked on the
host side. Usage: fusedev_xattr.py MNT SRC MODE, MODE one of xattr, map, capmap, acl, translate."""
import errno
import os
import struct
import subprocess
import sys

mnt, src, mode = sys.argv[1], sys.argv[2], sys.argv[3]
fails = 0


def check(what, cond):
    global fails
    if not cond:
        print(f"FAIL [{mode}]: {what}")
        fails += 1


def expect_errno(what, err, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except OSError as e:
        check(f"{what}: errno {e.errno}, expected {err}", e.errno == err)
        return
    check(f"{what}: succeeded, expected errno {err}", False)


def p(name):
    return os.path.join(mnt, name), os.path.join(src, name)


def as_user(uid, gid, cmd):
    """Run a shell command as uid:gid (no supplementary groups); its exit status."""
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                           "sh", "-c", cmd], capture_output=True).returncode


def acl(entries):
    """A system.posix_acl_* value: version 2, then (tag, perm, id) entries."""
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, pm, i) for t, pm, i in entries)


USER_OBJ, USER, GROUP_OBJ, MASK, OTHER = 0x01, 0x02, 0x04, 0x10, 0x20
NOID = 0xFFFFFFFF


def test_xattr():
    f, hf = p("xf")
    open(f, "w").close()
    os.setxattr(f, "user.k", b"v1")
    check("set seen on host", os.getxattr(hf, "user.k") == b"v1")
    os.setxattr(hf, "trusted.h", b"from-host")
    check("get", os.getxattr(f, "trusted.h") == b"from-host")
    check("list", {"user.k", "trusted.h"} <= set(os.listxattr(f)))
    expect_errno("XATTR_CREATE on an existing name", errno.EEXIST, os.setxattr, f, "user.k",
                 b"x", os.XATTR_CREATE)
    expect_errno("XATTR_REPLACE on a missing name", errno.ENODATA, os.setxattr, f, "user.no",
                 b"x", os.XATTR_REPLACE)
    os.removexattr(f, "user.k")
    check("remove", "user.k" not in os.listxattr(hf))
    # A symlink itself, a FIFO and a directory, none of them opened by the daemon.
    lnk, hl = p("xl")
    os.symlink("xf", lnk)
    os.setxattr(lnk, "trusted.s", b"on-link", follow_symlinks=False)
    check("symlink xattr on the link", os.getxattr(hl, "trusted.s", follow_symlinks=False)
          == b"on-link")
    check("not on its target", "trusted.s" not in os.listxattr(hf))
    fifo, hfifo = p("xfifo")
    os.mkfifo(fifo)
    os.setxattr(fifo, "trusted.f", b"fifo")
    check("FIFO xattr", os.getxattr(hfifo, "trusted.f") == b"fifo")
    d, hd = p("xd")
    os.mkdir(d)
    os.setxattr(d, "user.d", b"dir")
    check("dir xattr", os.getxattr(hd, "user.d") == b"dir")
    # Many names (what an ext4 block holds): the list is whole.
    for i in range(60):
        os.setxattr(f, f"user.n{i:03d}", b"x")
    check("60 names listed", len([n for n in os.listxattr(f) if n.startswith("user.n")]) == 60)


def test_map():
    f, hf = p("mf")
    open(f, "w").close()
    os.setxattr(f, "user.a", b"1")
    check("stored under the prefix", os.getxattr(hf, "user.virtiofs.user.a") == b"1")
    check("not under the guest name", "user.a" not in os.listxattr(hf))
    os.setxattr(f, "trusted.t", b"2")
    check("trusted.* mapped too", os.getxattr(hf, "user.virtiofs.trusted.t") == b"2")
    os.setxattr(hf, "user.hostonly", b"h")
    check("host names outside the prefix hidden", sorted(os.listxattr(f))
          == ["trusted.t", "user.a"])
    expect_errno("host name unreachable", errno.ENODATA, os.getxattr, f, "user.hostonly")
    os.removexattr(f, "user.a")
    check("removed under the prefix", "user.virtiofs.user.a" not in os.listxattr(hf))


def test_capmap():
    """CVE-2021-20263: a remapped security.capability goes on write, truncate and chown."""
    cap = "user.virtiofs.security.capability"
    f, hf = p("cf")
    with open(f, "w") as fh:
        fh.write("x")
    for what, act in (("write", lambda: open(f, "a").write("more")),
                      ("truncate", lambda: os.truncate(f, 1)),
                      ("chown", lambda: os.chown(f, 1234, 1234))):
        os.setxattr(hf, cap, b"\x01\x00\x00\x02" + b"\x00" * 16)
        check(f"capability visible before {what}", "security.capability" in os.listxattr(f))
        act()
        check(f"capability dropped by {what}", cap not in os.listxattr(hf))


def test_acl():
    f, hf = p("af")
    with open(f, "w") as fh:
        fh.write("secret")
    os.chmod(f, 0o600)
    check("no access for uid 4321", as_user(4321, 4321, f"cat {f}") != 0)
    value = acl([(USER_OBJ, 6, NOID), (USER, 4, 4321), (GROUP_OBJ, 0, NOID), (MASK, 4, NOID),
                 (OTHER, 0, NOID)])
    os.setxattr(f, "system.posix_acl_access", value)
    check("ACL stored on the host", os.getxattr(hf, "system.posix_acl_access") == value)
    check("mode shows the mask", os.stat(hf).st_mode & 0o777 == 0o640)
    check("ACL grants uid 4321", as_user(4321, 4321, f"cat {f}") == 0)
    check("others still refused", as_user(4322, 4322, f"cat {f}") != 0)
    # A default ACL decides new modes; the umask only applies without one (DONT_MASK).
    d, hd = p("ad")
    os.mkdir(d)
    old = os.umask(0o022)
    try:
        os.mkdir(os.path.join(d, "plain"))
        check("umask without a default ACL", os.stat(os.path.join(hd, "plain")).st_mode & 0o777
              == 0o755)
        os.setxattr(d, "system.posix_acl_default",
                    acl([(USER_OBJ, 7, NOID), (GROUP_OBJ, 7, NOID), (OTHER, 7, NOID)]))
        os.mkdir(os.path.join(d, "inherit"))
        check("default ACL beats the umask",
              os.stat(os.path.join(hd, "inherit")).st_mode & 0o777 == 0o777)
        open(os.path.join(d, "file"), "w").close()
        check("default ACL on a new file",
              os.stat(os.path.join(hd, "file")).st_mode & 0o777 == 0o666)
        check("new dir inherits the default ACL",
              "system.posix_acl_default" in os.listxattr(os.path.join(hd, "inherit")))
    finally:
        os.umask(old)
    os.removexattr(f, "system.posix_acl_access")
    check("ACL removed", "system.posix_acl_access" not in os.listxattr(hf))


def test_translate():
    """--translate-uid/gid=map:1000:2000:10: guest 1000-1009 are host 2000-2009."""
    pub, hpub = p("pub")
    os.mkdir(pub)
    os.chmod(pub, 0o1777)
    check("create as uid 1000", as_user(1000, 1000, f"echo x > {pub}/mine") == 0)
    st = os.stat(os.path.join(hpub, "mine"))
    check(f"host owner 2000:2000 (got {st.st_uid}:{st.st_gid})",
          (st.st_uid, st.st_gid) == (2000, 2000))
    st = os.stat(os.path.join(pub, "mine"))
    check(f"guest owner 1000:1000 (got {st.st_uid}:{st.st_gid})",
          (st.st_uid, st.st_gid) == (1000, 1000))
    check("the owner may write it", as_user(1000, 1000, f"echo y >> {pub}/mine") == 0)
    check("someone else may not", as_user(1001, 1001, f"echo y >> {pub}/mine") != 0)
    f, hf = p("tf")
    open(f, "w").close()
    os.chown(f, 1005, 1006)
    st = os.stat(hf)
    check("chown translated to the host", (st.st_uid, st.st_gid) == (2005, 2006))
    h2 = os.path.join(src, "hostmade")  # not looked up yet: no cached attributes
    open(h2, "w").close()
    os.chown(h2, 2009, 7)
    st = os.stat(os.path.join(mnt, "hostmade"))
    check("host ids back to the guest", (st.st_uid, st.st_gid) == (1009, 7))
    names = os.listdir(mnt)
    check("readdir still works", "tf" in names)


def test_translate_chain():
    """--translate-uid/gid=host:3000:4000:1 and host:4000:5000:1: each answer maps a host id
    once, so GETATTR and STATX (asked for by stat's %W, the birth time) agree on 4000."""
    h = os.path.join(src, "chained")
    open(h, "w").close()
    os.chown(h, 3000, 3000)
    out = subprocess.run(["stat", "-c", "%u %g %W", os.path.join(mnt, "chained")],
                         capture_output=True, text=True).stdout.split()
    check(f"STATX owner 4000:4000 (got {out[:2]})", out[:2] == ["4000", "4000"])
    st = os.stat(os.path.join(mnt, "chained"))
    check(f"GETATTR owner 4000:4000 (got {st.st_uid}:{st.st_gid})",
          (st.st_uid, st.st_gid) == (4000, 4000))


{"xattr": test_xattr, "map": test_map, "capmap": test_capmap, "acl": test_acl,
 "translate": test_translate, "translate-chain": test_translate_chain}[mode]()
print(f"fusedev_xattr [{mode}]: {fails} failures")
sys.exit(1 if fails else 0)

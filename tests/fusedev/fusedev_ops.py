#!/usr/bin/python3
"""Operations shell tools do not reach: xattrs, renameat2 flags, SEEK_DATA/SEEK_HOLE,
copy_file_range, O_APPEND/pwrite/pread, readdir with seekdir. Usage: fusedev_ops.py MNT SRC XATTR"""
import ctypes
import errno
import os
import sys

mnt, src, xattr = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
fails = 0


def check(what, cond):
    global fails
    if not cond:
        print(f"FAIL: {what}")
        fails += 1


def expect_errno(what, err, fn, *args):
    try:
        fn(*args)
    except OSError as e:
        check(f"{what}: errno {e.errno}, expected {err}", e.errno == err)
        return
    check(f"{what}: succeeded, expected errno {err}", False)


libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def renameat2(a, b, flags):
    if libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def p(name):
    return os.path.join(mnt, name), os.path.join(src, name)


# renameat2: exchange and noreplace
(a, ha), (b, hb) = p("xa"), p("xb")
open(a, "w").write("A")
open(b, "w").write("B")
renameat2(a, b, RENAME_EXCHANGE)
check("RENAME_EXCHANGE", open(ha).read() == "B" and open(hb).read() == "A")
expect_errno("RENAME_NOREPLACE onto an existing name", errno.EEXIST, renameat2, a, b,
             RENAME_NOREPLACE)

# pwrite/pread at offsets, O_APPEND
f, hf = p("pw")
fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
os.pwrite(fd, b"0123456789", 0)
os.pwrite(fd, b"abc", 4)
os.fsync(fd)  # with --writeback the data may still sit in the page cache
check("pwrite", open(hf, "rb").read() == b"0123abc789")
check("pread", os.pread(fd, 4, 3) == b"3abc")
os.close(fd)
fd = os.open(f, os.O_WRONLY | os.O_APPEND)
os.write(fd, b"END")
os.close(fd)
check("O_APPEND", open(hf, "rb").read() == b"0123abc789END")

# SEEK_DATA / SEEK_HOLE on a sparse file
f, hf = p("sparse2")
fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
os.pwrite(fd, b"x" * 4096, 1 << 20)
os.fsync(fd)
check("SEEK_DATA", os.lseek(fd, 0, os.SEEK_DATA) == 1 << 20)
check("SEEK_HOLE", os.lseek(fd, 1 << 20, os.SEEK_HOLE) == (1 << 20) + 4096)
expect_errno("SEEK_DATA past the end", errno.ENXIO, os.lseek, fd, 2 << 20, os.SEEK_DATA)
os.close(fd)

# copy_file_range
(s1, hs1), (d1, hd1) = p("cfr_src"), p("cfr_dst")
data = os.urandom(200000)
open(s1, "wb").write(data)
fi, fo = os.open(s1, os.O_RDONLY), os.open(d1, os.O_WRONLY | os.O_CREAT, 0o644)
done = 0
while done < len(data):
    n = os.copy_file_range(fi, fo, len(data) - done, done, done)
    if n <= 0:
        break
    done += n
os.close(fi)
os.close(fo)
check("copy_file_range", open(hd1, "rb").read() == data)

# readdir resumes at the right offset (telldir/seekdir through many getdents calls)
d, hd = p("rd")
os.mkdir(d)
names = {f"n{i:05d}_" + "x" * (i % 200) for i in range(1500)}
for n in names:
    open(os.path.join(hd, n), "w").close()
seen = [e.name for e in os.scandir(d)]
check("readdir sees each entry once", sorted(seen) == sorted(names))
for n in list(names)[:700]:
    os.unlink(os.path.join(d, n))
check("readdir after unlinks", sorted(os.listdir(d)) == sorted(list(names)[700:]))

# errors come back as the right errno
expect_errno("ENOENT", errno.ENOENT, os.stat, os.path.join(mnt, "nope"))
expect_errno("ENOTDIR", errno.ENOTDIR, os.listdir, p("pw")[0])
expect_errno("EISDIR", errno.EISDIR, open, d, "w")
expect_errno("ENOTEMPTY", errno.ENOTEMPTY, os.rmdir, d)
expect_errno("EEXIST", errno.EEXIST, os.mkdir, d)
expect_errno("ENAMETOOLONG", errno.ENAMETOOLONG, os.mkdir, os.path.join(mnt, "l" * 256))

if xattr:
    f, hf = p("xf")
    open(f, "w").close()
    os.setxattr(f, "user.k", b"v1")
    check("setxattr seen on host", os.getxattr(hf, "user.k") == b"v1")
    os.setxattr(hf, "user.h", b"from-host")
    check("getxattr", os.getxattr(f, "user.h") == b"from-host")
    check("listxattr", {"user.k", "user.h"} <= set(os.listxattr(f)))
    big = os.urandom(60000)
    try:
        os.setxattr(f, "user.big", big)
        check("large xattr", os.getxattr(f, "user.big") == big)
    except OSError as e:
        # ext4 without ea_inode holds one block of xattrs: the host's limit, not ours
        check(f"large xattr: errno {e.errno}", e.errno in (errno.ENOSPC, errno.E2BIG))
    expect_errno("XATTR_CREATE on existing", errno.EEXIST, os.setxattr, f, "user.k", b"x",
                 os.XATTR_CREATE)
    os.removexattr(f, "user.k")
    check("removexattr", "user.k" not in os.listxattr(hf))
    expect_errno("getxattr missing", errno.ENODATA, os.getxattr, f, "user.k")
else:
    f, _ = p("xf")
    open(f, "w").close()
    expect_errno("setxattr without --xattr", errno.EOPNOTSUPP, os.setxattr, f, "user.k", b"v")

print(f"fusedev_ops: {fails} failures")
sys.exit(1 if fails else 0)

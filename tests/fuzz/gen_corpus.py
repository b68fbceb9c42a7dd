#!/usr/bin/env python3
"""Writes the seed inputs of tests/fuzz/corpus/<target>/ (valid requests, rings, message
sequences in each target's input format, see README.md). Run from anywhere; overwrites seed-*."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def save(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


# --- FUSE: u8 opts, u8 mode, records (u8 counts, u16 room, u16 len, request) ---
def fuse_req(op, nodeid, args, unique=2):
    return struct.pack('<IIQQIIII', 40 + len(args), op, unique, nodeid, 0, 0, 4242, 0) + args


def rec(req, counts=0x00, room=4096):
    return struct.pack('<BHH', counts, room, len(req)) + req


LOOKUP, GETATTR, SETATTR, MKDIR, UNLINK, RENAME, OPEN, READ, WRITE = 1, 3, 4, 9, 10, 12, 14, 15, 16
SETXATTR, GETXATTR, LISTXATTR, OPENDIR, READDIR, GETLK, SETLK = 21, 22, 23, 27, 28, 31, 32
CREATE, INTERRUPT, BATCH_FORGET, READDIRPLUS, RENAME2, LSEEK, COPY_FILE_RANGE = 35, 36, 42, 44, 45, 46, 47
fuse = {
    'lookup': rec(fuse_req(LOOKUP, 1, b'foo\0')) + rec(fuse_req(GETATTR, 2, bytes(16)), 0x32),
    'rw': rec(fuse_req(OPEN, 2, struct.pack('<II', 2, 0))) +
          rec(fuse_req(READ, 2, struct.pack('<QQIIQII', 0, 0, 300, 0, 0, 0, 0)), 0x74, 600) +
          rec(fuse_req(WRITE, 2, struct.pack('<QQIIQII', 0, 0, 5, 0, 0, 0, 0) + b'hello'), 0x47),
    'dir': rec(fuse_req(OPENDIR, 1, bytes(8))) +
           rec(fuse_req(READDIR, 1, struct.pack('<QQIIQII', 0, 0, 512, 0, 0, 0, 0)), 0x30, 512) +
           rec(fuse_req(READDIRPLUS, 1, struct.pack('<QQIIQII', 0, 0, 1024, 0, 0, 0, 0)), 0x11, 1024),
    'xattr': rec(fuse_req(SETXATTR, 1, struct.pack('<IIII', 3, 0, 0, 0) + b'user.a\0abc')) +
             rec(fuse_req(GETXATTR, 1, struct.pack('<II', 64, 0) + b'user.a\0'), 0x22) +
             rec(fuse_req(LISTXATTR, 1, struct.pack('<II', 0, 0))),
    'names': rec(fuse_req(MKDIR, 1, struct.pack('<II', 0o755, 0o22) + b'd\0')) +
             rec(fuse_req(RENAME2, 1, struct.pack('<QII', 1, 0, 0) + b'a\0b\0'), 0x21) +
             rec(fuse_req(CREATE, 1, struct.pack('<IIII', 2, 0o644, 0o22, 0) + b'f\0')) +
             rec(fuse_req(UNLINK, 1, b'f\0')),
    'misc': rec(fuse_req(BATCH_FORGET, 0, struct.pack('<II', 2, 0) + struct.pack('<QQ', 2, 1) * 2)) +
            rec(fuse_req(INTERRUPT, 0, struct.pack('<Q', 7))) +
            rec(fuse_req(SETLK, 2, struct.pack('<QQQQIIII', 0, 1, 0, 10, 1, 0, 0, 0))) +
            rec(fuse_req(GETLK, 2, struct.pack('<QQQQIIII', 0, 1, 0, 10, 1, 0, 0, 0))) +
            rec(fuse_req(LSEEK, 2, struct.pack('<QQII', 0, 0, 3, 0))) +
            rec(fuse_req(SETATTR, 2, bytes(88))),
    'noinit': rec(fuse_req(GETATTR, 1, bytes(16))),
    # SETLKW: owner bit 1 makes the first try conflict (a waiter thread), bit 0 makes the
    # wait end in EINTR
    'setlkw': rec(fuse_req(33, 2, struct.pack('<QQQQIIII', 0, 2, 0, 10, 1, 0, 0, 0))) +
              rec(fuse_req(33, 2, struct.pack('<QQQQIIII', 0, 3, 0, 2**63 - 1, 0, 0, 1, 0), 5)) +
              rec(fuse_req(INTERRUPT, 0, struct.pack('<Q', 5))),
}
for name, body in fuse.items():
    save('fuse', name, bytes([0xff, 0x80 if name == 'noinit' else 0]) + body)
save('fuse', 'errno', bytes([0x21, 2]) + fuse['lookup'] + fuse['xattr'])


# --- virtqueue: u8 shape, u16 base, u8 pops, guest memory ---
def ring(num, descs, heads, indirect_tables=()):
    mem = bytearray(0x2000)
    for i, (addr, ln, fl, nx) in enumerate(descs):
        struct.pack_into('<QIHH', mem, 16 * i, addr, ln, fl, nx)
    avail = 16 * num
    struct.pack_into('<HH', mem, avail, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into('<H', mem, avail + 4 + 2 * i, h)
    for at, table in indirect_tables:
        for i, (addr, ln, fl, nx) in enumerate(table):
            struct.pack_into('<QIHH', mem, at + 16 * i, addr, ln, fl, nx)
    return bytes(mem)


NEXT, WRITE_F, INDIRECT = 1, 2, 4
save('virtqueue', 'chain', bytes([4, 0, 0, 8]) +
     ring(16, [(0x1000, 64, NEXT, 1), (0x1100, 128, WRITE_F, 0)], [0]))
save('virtqueue', 'straddle', bytes([4 | 16, 0, 0, 8]) +
     ring(16, [(0x7ff0, 32, NEXT, 1), (0x1100, 128, WRITE_F, 0), (0x1200, 8, 0, 0)], [0, 2]))
save('virtqueue', 'indirect', bytes([3 | 32, 0, 0, 8]) +
     ring(8, [(0x1800, 48, INDIRECT, 0)], [0],
          [(0x1800, [(0x1000, 40, NEXT, 1), (0x1100, 16, NEXT | WRITE_F, 2), (0x1200, 16, WRITE_F, 0)])]))
save('virtqueue', 'loop', bytes([2, 0, 0, 4]) + ring(4, [(0x1000, 8, NEXT, 1), (0x1000, 8, NEXT, 0)], [0]))


# --- vhost: u16 ram length, ram, then (u8 nfds, header, payload) messages ---
def msg(req, payload=b'', nfds=0, flags=1, pause=False):
    return bytes([nfds | (0x80 if pause else 0)]) + struct.pack('<III', req, flags, len(payload)) + payload


GET_FEATURES, SET_FEATURES, SET_OWNER, SET_MEM_TABLE = 1, 2, 3, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES = 12, 13, 15, 16
SET_VRING_ENABLE, RESET_DEVICE, ADD_MEM_REG, REM_MEM_REG = 18, 34, 37, 38
UVA = 0x7f0000000000
ram = ring(16, [(0x1000, 64, NEXT, 1), (0x1100, 128, WRITE_F, 0)], [0])
setup = (msg(GET_FEATURES) + msg(SET_FEATURES, struct.pack('<Q', (1 << 32) | (1 << 30) | (1 << 29))) +
         msg(GET_PROTOCOL_FEATURES) + msg(SET_PROTOCOL_FEATURES, struct.pack('<Q', 0x1 | 0x8)) +
         msg(SET_OWNER))
memtab = msg(SET_MEM_TABLE, struct.pack('<II', 1, 0) + struct.pack('<QQQQ', 0, 0x10000, UVA, 0), 1)
queue = (msg(SET_VRING_NUM, struct.pack('<II', 1, 16)) +
         # vhost_vring_addr: desc, used, avail, log
         msg(SET_VRING_ADDR, struct.pack('<IIQQQQ', 1, 0, UVA, UVA + 0x200, UVA + 256, 0)) +
         msg(SET_VRING_BASE, struct.pack('<II', 1, 0)) +
         msg(SET_VRING_CALL, struct.pack('<Q', 1), 1) + msg(SET_VRING_KICK, struct.pack('<Q', 1), 1) +
         msg(SET_VRING_ENABLE, struct.pack('<II', 1, 1)))
save('vhost', 'serve', struct.pack('<H', len(ram)) + ram + setup + memtab + queue +
     msg(GET_VRING_BASE, struct.pack('<II', 1, 0), pause=True))
save('vhost', 'pool', struct.pack('<H', 0x8000 | len(ram)) + ram + setup + memtab + queue +
     msg(GET_VRING_BASE, struct.pack('<II', 1, 0), pause=True))
save('vhost', 'memregs', struct.pack('<H', 0) + setup +
     msg(ADD_MEM_REG, struct.pack('<Q', 0) + struct.pack('<QQQQ', 0, 0x8000, UVA, 0), 1) +
     msg(ADD_MEM_REG, struct.pack('<Q', 0) + struct.pack('<QQQQ', 0x8000, 0x8000, UVA + 0x8000, 0x8000), 1) +
     msg(REM_MEM_REG, struct.pack('<Q', 0) + struct.pack('<QQQQ', 0, 0x8000, UVA, 0), 1) +
     msg(RESET_DEVICE))
save('vhost', 'bad', struct.pack('<H', 0) + msg(SET_FEATURES, b'\xff' * 8) + msg(99) +
     msg(SET_VRING_NUM, struct.pack('<II', 40, 3)) + msg(SET_MEM_TABLE, bytes(8), 9) +
     msg(SET_FEATURES, b'', 0, 0x8 | 1))


# --- fuse_pt: u8 server opts, u8 fs opts, u8 mode, then operation records (fuzz_pt_ops.c):
# u8 op (index into ops[]), u8 node selector, u8 handle selector, u8 name, u8 bits, fields ---
PT_OPS = ('lookup forget batch_forget getattr setattr readlink symlink mknod mkdir unlink rmdir '
          'rename rename2 link open opendir create tmpfile read readdir readdirplus write statfs '
          'release releasedir fsync fsyncdir flush setxattr getxattr listxattr removexattr access '
          'fallocate lseek copy_file_range syncfs getlk setlk setlkw statx interrupt destroy init '
          'raw').split()
PT_NAMES = ('vfzf vfzd vfzg vfzl vfzup vfzabs vfzout vfzp vfzs vfzn vfzm .. . <empty> / /tmp/vfzn '
            'vfzd/vfzg ../vfzn ../secret secret share ../outdir/victim <long255> <long256> vfzq '
            'outdir victim').split()
LAST, ROOT = 0xff, 0xf9
O_WRONLY, O_RDWR, O_TRUNC, O_APPEND, O_CREAT_B, O_EXCL_B = 1, 2, 4, 8, 64, 128  # open_bits[] indices


def n(name):
    return PT_NAMES.index(name)


def op(name, node=LAST, fh=LAST, nm=0, bits=0, fields=b''):
    return bytes([PT_OPS.index(name), node, fh, nm, bits]) + fields


def u16(*v):
    return struct.pack('<' + 'H' * len(v), *v)


def setattr_f(valid, size=0, mode=0o644, who=0):
    # valid u16, who u8, u8 (bit 0 clear: a u8 size follows), size, mode u16, time u8
    return struct.pack('<HBBBHB', valid, who, 0, size, mode, 0)


S_IFDIR_SEL, S_IFIFO_SEL, S_IFCHR_SEL = 5 << 13, 1 << 13, 2 << 13
walk = (op('lookup', ROOT, nm=n('vfzf')) + op('open', fields=u16(O_RDWR)) +
        op('read', fields=u16(0, 4096, 0)) + op('write', fields=u16(3, 32) + b'\0') +
        op('fsync') + op('flush') + op('getattr', nm=1) + op('release') +
        op('lookup', ROOT, nm=n('vfzd')) + op('opendir', fields=u16(0)) +
        op('readdirplus', fields=u16(0, 4096, 0)) + op('readdir', fields=u16(0, 4096, 0)) +
        op('lookup', nm=n('vfzg')) + op('releasedir') + op('statfs') + op('statx', fields=u16(0) + bytes(4)))
escape = (op('lookup', ROOT, nm=n('..')) + op('lookup', ROOT, nm=n('../secret')) +
          op('lookup', ROOT, nm=n('/')) + op('lookup', ROOT, nm=n('vfzup')) +
          op('open', fields=u16(0)) + op('readlink') + op('setattr', fields=setattr_f(1, mode=0o777)) +
          op('lookup', ROOT, nm=n('vfzout')) + op('mkdir', nm=n('vfzn'), fields=u16(S_IFDIR_SEL | 0o755) + b'\0') +
          op('create', nm=n('victim'), fields=u16(O_RDWR, 0o644) + b'\0') +
          op('lookup', ROOT, nm=n('vfzf')) + op('rename', ROOT, nm=n('vfzf'), fields=bytes([ROOT, n('../vfzn')])) +
          op('link', ROOT, nm=n('/tmp/vfzn'), fields=bytes([LAST])) +
          op('create', ROOT, nm=n('/tmp/vfzn'), fields=u16(O_RDWR, 0o644) + b'\0') +
          op('symlink', ROOT, nm=n('vfzn'), fields=bytes([n('../secret')])) +
          op('mknod', ROOT, nm=n('../vfzn'), fields=u16(0o644) + b'\0') +
          op('lookup', ROOT, nm=n('vfzabs')) + op('open', fields=u16(O_RDWR | O_TRUNC)))
create = (op('create', ROOT, nm=n('vfzn'), fields=u16(O_RDWR, 0o644) + b'\0') +
          op('write', fields=u16(0, 4096, 0)) + op('setattr', fields=setattr_f(8 | 64, 100)) +
          op('fallocate', fields=u16(0, 8192)) + op('lseek', nm=3, fields=u16(0)) +
          op('copy_file_range', fields=u16(0) + bytes([LAST, LAST]) + u16(5000, 100)) +
          op('getlk', nm=1 << 3, fields=b'\x03') + op('setlk', nm=1 << 3, fields=b'\x03') +
          op('setlkw', nm=(1 << 3) | 2, fields=b'\x03') + op('interrupt', nm=0) +
          op('mkdir', ROOT, nm=n('vfzm'), fields=u16(S_IFDIR_SEL | 0o700) + b'\0') +
          op('rename2', ROOT, nm=n('vfzn'), fields=bytes([ROOT, 2, n('vfzm')])) +
          op('readdirplus', ROOT, fields=u16(0, 8192, 0)) + op('release', fh=0) +
          op('tmpfile', ROOT, fields=u16(O_RDWR, 0o600) + b'\0') + op('unlink', ROOT, nm=n('vfzm')) +
          op('rmdir', ROOT, nm=n('vfzn')))
xattr = (op('lookup', ROOT, nm=n('vfzf')) + op('setxattr', nm=0xa0, fields=b'\0' + b'\x03abc') +
         op('getxattr', nm=0x80) + op('listxattr', nm=3) + op('setxattr', nm=0x86, fields=b'\0') +
         op('setxattr', nm=0x94, fields=b'\0') + op('getxattr', nm=0x84) + op('removexattr', nm=0) +
         op('setxattr', ROOT, nm=0x87, fields=b'\0') + op('listxattr', ROOT, nm=3))
nodes = (op('mknod', ROOT, nm=n('vfzn'), fields=u16(S_IFIFO_SEL | 0o666) + b'\0') +
         op('open', fields=u16(0)) + op('open', fields=u16(O_WRONLY)) +
         op('mknod', ROOT, nm=(1 << 6) | n('vfzm'), fields=u16(S_IFCHR_SEL | 0o666) + b'\0') +
         op('open', fields=u16(O_RDWR)) + op('lookup', ROOT, nm=n('vfzp')) + op('open', fields=u16(0)) +
         op('create', ROOT, nm=n('vfzp'), fields=u16(O_RDWR, 0o644) + b'\0') + op('getlk', fields=b'\0') +
         op('lookup', ROOT, nm=n('vfzs')) + op('open', fields=u16(O_WRONLY | O_TRUNC), nm=1, bits=1 | 4) +
         op('write', bits=1 | 4, fields=u16(0, 4, 4)))
forget = (op('lookup', ROOT, nm=n('vfzd')) + op('lookup', nm=n('vfzg')) + op('forget', fields=b'\x01') +
          op('getattr', nm=0) + op('lookup', ROOT, nm=n('vfzd')) +
          op('batch_forget', nm=2, fields=bytes([0, 1, 1, 1])) + op('lookup', 0, nm=n('vfzg')) +
          op('open', 0, fields=u16(0)) + op('forget', 0, fields=b'\x09'))
destroy = (op('lookup', ROOT, nm=n('vfzf')) + op('open', fields=u16(O_RDWR)) + op('destroy') +
           op('read', fields=u16(0, 100, 0)) + op('init', nm=13, fields=struct.pack('<II', 0xffffffff, 0xffffffff)) +
           op('lookup', ROOT, nm=n('vfzf')) + op('read', fields=u16(0, 100, 0)))
pt = {'walk': (0xff, 0, walk), 'escape': (0xff, 0, escape), 'escape-fds': (0xff, 4, escape),
      'create': (0xff, 0, create), 'create-fds': (0xff, 4 | 2, create), 'xattr': (0xff, 0, xattr),
      'nodes': (0xff, 0, nodes), 'forget': (0x00, 4, forget), 'destroy': (0xff, 1, destroy),
      'ro': (0xff, 8, create + escape)}
for name, (a, b, body) in pt.items():
    save('fuse_pt', name, bytes([a, b, 0]) + body)


# --- vhost_async: u8 config, u32 completer seed, then (u8 action, u8 arg) pairs ---
(POST, POST_NOKICK, KICK, REAP, MEM_SAME, MEM_ONE, REM_REG, ADD_REG, STOP, RESTART, ENABLE,
 RESET, PAUSE, COMPLETE, CALL, RAW) = range(16)
POOL, EVIDX, ADDREG, ACK, TWOQ = 1, 2, 4, 8, 16
PACE_50US, PACE_500US, PACE_5MS = 1 << 5, 2 << 5, 3 << 5


def post(count, q=0, defer=0, kick=True):
    return bytes([POST if kick else POST_NOKICK, (count - 1) | (q << 3) | (defer << 4)])


def a(action, arg=0):
    return bytes([action, arg])


def va(cfg, *acts):
    return bytes([cfg]) + struct.pack('<I', 0x9e3779b9) + b''.join(acts)


settle = a(PAUSE, 100) + a(REAP) + a(REAP, 8)
va_seeds = {
    'basic': va(ACK | TWOQ | PACE_50US, post(8), settle, post(8, 1, 0xf), settle, a(COMPLETE, 3),
                settle, a(STOP), a(RESTART), post(4, 0, 0x5), settle),
    'memsame': va(ACK | TWOQ | PACE_500US, post(8, 0, 0x5), a(MEM_SAME), post(8, 1, 0xa), a(MEM_SAME),
                  a(MEM_SAME), settle, a(STOP, 8), a(RESTART, 8), settle),
    'regs': va(ACK | ADDREG | PACE_50US, post(4, 0, 0x3), a(REM_REG, 0), post(4), a(ADD_REG, 0), settle,
               a(REM_REG, 1 | 2), a(PAUSE, 50), a(ADD_REG, 1), a(KICK), settle, a(MEM_ONE, 1), a(MEM_SAME),
               settle),
    'reset': va(ACK | TWOQ | PACE_5MS, post(8, 0, 0xf), post(8, 1, 0xf), a(PAUSE, 20), a(RESET), post(3),
                settle, a(COMPLETE, 3), settle),
    'pool': va(POOL | ACK | TWOQ | EVIDX | PACE_50US, post(8, 0, 0x9), post(8, 1, 0x6), a(MEM_SAME),
               settle, a(STOP, 8), a(RESTART, 8), post(8, 1), settle, a(CALL), post(2), settle),
    'noack': va(TWOQ | EVIDX, post(8, 0, 0xf), a(COMPLETE, 3), a(MEM_SAME), a(COMPLETE, 3), a(STOP),
                a(RESTART), settle, a(ENABLE, 0), a(ENABLE, 2), post(4), settle),
    'raw': va(ACK, post(2), a(RAW, 8 | 0x80) + struct.pack('<III', 13, 1, 8) + struct.pack('<Q', 0),
              settle, a(RAW, 0) + struct.pack('<III', 17, 1, 0), settle),
}
for name, body in va_seeds.items():
    save('vhost_async', name, body)

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

#!/usr/bin/env python3
"""The layer rule of docs/architecture.md, kept by a test: a lower folder of src/ never
includes an upper folder's header.

    util, uapi < virtio < vhost
    util, uapi < fs < fuse
    sandbox uses util only
    main.c, config.c, config_help.c, config.h on top (they may include anything)

log.h (src/log.h) is allowed everywhere: it is a leaf utility (it includes nothing of ours)
that every layer logs through; log.c belongs with util.

Only `#include "..."` lines are looked at (system headers are not layers). An include
without a folder is resolved like the compiler does: next to the including file first, then
in src/. A folder of src/ this test does not know fails too, so that a new layer gets its
place in the order here.

Usage: test_layers.py SRC_DIR    (exit 1 and one line per bad include on failure)
       test_layers.py --self-test (checks that the checker itself catches a bad include)
"""
import os
import re
import sys
import tempfile

# What each folder may include (besides log.h).
ALLOWED = {
    'util': {'util'},
    'uapi': {'uapi'},
    'virtio': {'util', 'uapi', 'virtio'},
    'vhost': {'util', 'uapi', 'virtio', 'vhost'},
    'fs': {'util', 'uapi', 'fs'},
    'fuse': {'util', 'uapi', 'fs', 'fuse'},
    'sandbox': {'util', 'sandbox'},
}
TOP_FILES = {'main.c', 'config.c', 'config_help.c', 'config.h'}
LEAF_HEADERS = {'log.h'}           # allowed from every folder
UTIL_FILES = {'log.c', 'log_spec.c', 'log.h'}  # src/ files that belong to the util layer
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of_file(src, path):
    """The layer of a file under src, 'top', or None when unknown."""
    rel = os.path.relpath(path, src)
    parts = rel.split(os.sep)
    if len(parts) == 1:
        if parts[0] in TOP_FILES:
            return 'top'
        if parts[0] in UTIL_FILES:
            return 'util'
        return None
    return parts[0] if parts[0] in ALLOWED else None


def resolve(src, including, name):
    """The path an include names: next to the including file, else below src."""
    local = os.path.normpath(os.path.join(os.path.dirname(including), name))
    if os.path.exists(local):
        return local
    return os.path.normpath(os.path.join(src, name))


def check(src):
    bad = []
    for root, _dirs, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith(('.c', '.h')):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, src)
            mine = layer_of_file(src, path)
            if mine is None:
                bad.append(f'{rel}: in no layer this test knows (add it to ALLOWED)')
                continue
            with open(path, encoding='utf-8', errors='replace') as fh:
                for no, line in enumerate(fh, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = resolve(src, path, m.group(1))
                    if os.path.relpath(target, src) in LEAF_HEADERS or mine == 'top':
                        continue
                    theirs = layer_of_file(src, target)
                    if theirs == 'top' or theirs not in ALLOWED[mine]:
                        bad.append(f'{rel}:{no}: layer {mine} includes "{m.group(1)}" '
                                   f'(layer {theirs or "unknown"})')
    return bad


def self_test():
    """The checker must catch each kind of bad include, and pass a good tree."""
    cases = {
        'good': ({'fs/a.h': '#include "util/p.h"\n#include "log.h"\n',
                  'fuse/b.c': '#include "fs/a.h"\n#include "b.h"\n',
                  'fuse/b.h': '', 'util/p.h': '', 'log.h': '',
                  'main.c': '#include "fuse/b.h"\n'}, 0),
        'fs includes fuse': ({'fs/a.h': '#include "fuse/b.h"\n', 'fuse/b.h': ''}, 1),
        'virtio includes vhost': ({'virtio/q.c': '#include "vhost/v.h"\n',
                                   'vhost/v.h': ''}, 1),
        'vhost includes fs': ({'vhost/v.c': ' #  include "fs/a.h"\n', 'fs/a.h': ''}, 1),
        'sandbox includes fs': ({'sandbox/s.c': '#include "fs/a.h"\n', 'fs/a.h': ''}, 1),
        'uapi includes util': ({'uapi/u.h': '#include "util/p.h"\n', 'util/p.h': ''}, 1),
        'fuse includes config.h': ({'fuse/b.c': '#include "config.h"\n',
                                    'config.h': ''}, 1),
        'unknown folder': ({'newlayer/x.c': ''}, 1),
    }
    failed = False
    for name, (tree, want) in cases.items():
        with tempfile.TemporaryDirectory() as d:
            for rel, text in tree.items():
                os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
                with open(os.path.join(d, rel), 'w') as fh:
                    fh.write(text)
            got = len(check(d))
            if (got > 0) != (want > 0):
                print(f'self-test "{name}": {got} bad includes found, expected '
                      f'{"some" if want else "none"}')
                failed = True
    return not failed


def main(argv):
    if len(argv) == 2 and argv[1] == '--self-test':
        return 0 if self_test() else 1
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print(__doc__)
        return 2
    if not self_test():
        print('the layer checker failed its self-test')
        return 1
    bad = check(argv[1])
    for b in bad:
        print(b)
    print(f'{len(bad)} include(s) against the layer order' if bad else 'layer order kept')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Writes the vhost-user JSON (QEMU docs/interop/vhost-user.json) for the installed daemon.

Usage: gen-vhost-user-json.py TEMPLATE DAEMON INSTALLED_PATH OUTPUT

The "features" come from the built daemon's --print-capabilities, so that the file and what
libvirt reads from the daemon itself cannot disagree.
"""
import json
import os
import subprocess
import sys


def main():
    template, daemon, installed, output = sys.argv[1:5]
    daemon = os.path.abspath(daemon)  # meson passes a path relative to the build folder
    caps_text = subprocess.run([daemon, '--print-capabilities'], check=True,
                               capture_output=True, text=True).stdout
    caps = json.loads(caps_text)
    if caps.get('type') != 'fs':
        sys.exit(f'{daemon} --print-capabilities: type is {caps.get("type")!r}, not "fs"')
    features = caps.get('features', [])
    with open(template, encoding='utf-8') as f:
        text = f.read()
    text = text.replace('@BINARY@', installed).replace('@FEATURES@', json.dumps(features))
    doc = json.loads(text)  # the result must be valid JSON with the same binary
    if doc['binary'] != installed:
        sys.exit(f'{template}: "binary" is not @BINARY@')
    with open(output, 'w', encoding='utf-8') as f:
        f.write(text)


if __name__ == '__main__':
    main()

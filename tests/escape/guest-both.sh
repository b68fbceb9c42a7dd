#!/bin/sh
# One boot, two guest scripts: /init runs this with the share on /mnt as the cwd; the host put
# the regular checks (tests/vm/guest-test.sh) and the escape checks in /mnt/.esc/.
sh /mnt/.esc/guest-test.sh
a=$?
cd /mnt || exit 1
sh /mnt/.esc/guest-escape.sh
b=$?
[ "$a" -eq 0 ] && [ "$b" -eq 0 ]

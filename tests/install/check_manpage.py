#!/usr/bin/env python3
"""The man page against the daemon: the same options, defaults and legacy -o forms.

Usage: check_manpage.py DAEMON MANPAGE [SRCDIR]

- Every option in `DAEMON --help` has an entry in OPTIONS, and every entry there names an option
  that --help lists (so a new option in config.c fails this test until the man page has it).
- A "[default: X]" in --help is "Default: X" in the entry; "[default]" is "This is the default".
- Every form in LEGACY OPTIONS is accepted by the daemon (`-o FORM --print-capabilities`), and,
  with SRCDIR, every -o name in the source's table is in LEGACY OPTIONS.
Prints TAP-like lines and a "N passed, N failed" summary; exits 1 on any failure.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

OPT_RE = re.compile(r'(?<![\w-])(--?[A-Za-z0-9][A-Za-z0-9-]*)')
passed = failed = 0


def check(ok, name, detail=''):
    global passed, failed
    if ok:
        passed += 1
        print(f'ok - {name}')
    else:
        failed += 1
        print(f'not ok - {name}' + (f': {detail}' if detail else ''))


def help_entries(daemon):
    """{option: help text} from --help; continuation lines belong to the entry above."""
    out = subprocess.run([daemon, '--help'], capture_output=True, text=True, check=True).stdout
    entries, current = {}, None
    for line in out.splitlines():
        m = re.match(r'^\s{1,8}(-[A-Za-z0-9], )?(--?[A-Za-z0-9][A-Za-z0-9-]*)(.*)$', line)
        if m:
            names = [m.group(2)] + ([m.group(1)[:2]] if m.group(1) else [])
            current = [m.group(3)]
            for n in names:
                entries[n] = current
        elif current is not None and re.match(r'^\s{20,}\S', line):
            current.append(line)
        else:
            current = None
    return {k: ' '.join(' '.join(v).split()) for k, v in entries.items()}


def unroff(s):
    s = re.sub(r'\\f[BIRP]', '', s)
    return s.replace('\\-', '-').replace('\\e', '\\').replace('\\ ', ' ')


def man_sections(path):
    """{section: [(tag, body)]} for the .TP entries of each .SH section."""
    sections, sec, entries = {}, None, None
    lines = open(path, encoding='utf-8').read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith('.SH '):
            sec = line[4:].strip().strip('"')
            entries = sections.setdefault(sec, [])
        elif line.startswith('.TP') and entries is not None and i + 1 < len(lines):
            i += 1
            # The tag in bold only: an italic argument (like +cap:-cap) is not an option name.
            tag = ' '.join(unroff(b) for b in re.findall(r'\\fB(.*?)(?:\\f[RIP]|$)', lines[i]))
            body = []
            while i + 1 < len(lines) and not lines[i + 1].startswith(('.TP', '.SH', '.PP')):
                i += 1
                body.append(unroff(lines[i]))
            entries.append((tag, ' '.join(' '.join(body).split())))
        i += 1
    return sections


def check_options(daemon, sections):
    helped = help_entries(daemon)
    check(len(helped) >= 10, f'--help lists options ({len(helped)} found)')
    manned = {}
    for tag, body in sections.get('OPTIONS', []):
        for opt in OPT_RE.findall(tag):
            manned[opt] = body
    for opt in sorted(helped):
        check(opt in manned, f'man page has an entry for {opt}')
    for opt in sorted(set(manned) - set(helped)):
        check(False, f'man page entry {opt} is an option of the daemon', 'not in --help')
    for opt, text in sorted(helped.items()):
        m = re.search(r'\[default(?:: ([^\]]+))?\]', text)
        if not m or opt not in manned:
            continue
        want = f'Default: {m.group(1)}.' if m.group(1) else 'This is the default'
        check(want in manned[opt], f'man page gives the default of {opt} ({want!r})',
              manned[opt][-120:])


# A valid value per legacy key that takes one, for the acceptance check.
SAMPLES = {'cache': 'auto', 'loglevel': 'info', 'log_level': 'info', 'sandbox': 'chroot',
           'xattrmap': ':ok:all:::', 'modcaps': '+sys_admin'}


def legacy_forms(sections):
    forms = []
    for tag, _ in sections.get('LEGACY OPTIONS', []):
        forms += [f for f in re.split(r'[,\s]+', tag) if f]
    return forms


def compat_functions(text):
    """The bodies of the compat_*() functions of a C file (up to the closing brace in column 0)."""
    return re.findall(r'^(?:static )?int (compat_\w+)\([^)]*\)\n\{\n(.*?)^\}', text, re.M | re.S)


def source_compat_names(srcdir):
    """-o names in the source: the FLAG("name", ...) table, and the names the compat_*()
    functions match an item or key against (strcmp(item, "name"), strcmp(key, "name"))."""
    names = set()
    for path in glob.glob(os.path.join(srcdir, '**', '*.c'), recursive=True):
        text = open(path, encoding='utf-8', errors='replace').read()
        if 'parse_compat' not in text:
            continue
        names |= set(re.findall(r'\bFLAG\("([a-z0-9_]+)"', text))
        for _, body in compat_functions(text):
            names |= set(re.findall(r'\bstrcmp\((?:item|key), "([a-z0-9_]+)"\)', body))
    return names


def check_legacy(daemon, sections, srcdir):
    forms = legacy_forms(sections)
    check(len(forms) >= 10, f'LEGACY OPTIONS lists -o forms ({len(forms)} found)')
    tmp = tempfile.mkdtemp()
    samples = dict(SAMPLES, source=tmp)

    def accepted(item):
        r = subprocess.run([daemon, '-o', item, '--print-capabilities'], capture_output=True,
                           text=True)
        return r.returncode == 0, r.stderr.strip()[-200:]

    ok, _ = accepted('frobnicate')
    check(not ok, 'the daemon refuses an unknown -o form (so acceptance below means something)')
    names = set()
    for form in forms:
        key, eq, _ = form.partition('=')
        names.add(key)
        if eq and key not in samples:
            check(False, f'-o {form} accepted', f'no sample value for {key}= in {__file__}')
            continue
        item = f'{key}={samples[key]}' if eq else key
        ok, err = accepted(item)
        check(ok, f'-o {item} accepted', err)
    os.rmdir(tmp)
    if srcdir:
        src = source_compat_names(srcdir)
        check(len(src) >= 10, f'-o table found in the source under {srcdir} ({len(src)} names)')
        for n in sorted(src - names):
            check(False, f'man page lists -o {n}', 'in the source, not in LEGACY OPTIONS')
        for n in sorted(names - src):
            check(False, f'-o {n} of the man page is in the source', 'not in the source tables')


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    daemon, manpage = sys.argv[1], sys.argv[2]
    srcdir = sys.argv[3] if len(sys.argv) == 4 else None
    sections = man_sections(manpage)
    check('OPTIONS' in sections and 'LEGACY OPTIONS' in sections,
          f'{manpage} has OPTIONS and LEGACY OPTIONS sections')
    check_options(daemon, sections)
    check_legacy(daemon, sections, srcdir)
    print(f'{passed} passed, {failed} failed')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Every code block of README.md, run as printed (issue 18).

The blocks run in order, as a reader following the README would, against
one clmd started on a temp dir and two free loopback ports, in a scratch
directory laid out like the repository's root after `make` (build/ is the
build dir, client/, include/ and proto/ the sources'), with CLM_URL set to
that clmd. The one change made to a block: the address the README uses,
tcp://127.0.0.1:7450 (7451 for the stream), becomes the test clmd's in
Python, Node and C code, which name it, and its --http address,
127.0.0.1:7452, the test clmd's (a third free port) in sh commands.

What a block is, by its fence and the HTML comment just before it:

- `<!-- readme-test: skip (why) -->`: not run (it starts clmd in the
  foreground, or runs this very suite).
- `<!-- readme-test: file NAME -->`: written to NAME for a later block.
- `<!-- readme-test: output illustrative (why) -->`: its commands run and
  must succeed; what they print is not compared.
- sh with `$ ` prompts: each command (continued by a trailing backslash)
  runs in bash and must exit 0; the lines up to the next prompt are its
  output, compared with what it printed (stdout, then stderr). A time
  like 2026-11-24T07:17:52.566Z matches any time, `...` any text, and a
  line that is only `...` any lines. `$ cat FILE` of a FILE that does not
  exist yet makes it, with the lines shown.
- sh without prompts: each line is a command that must exit 0.
- python and js: run with python3 and node, must exit 0; a `# X` or
  `// X` comment after a print or console.log says what that line prints
  (its first word, X).

Environment: CLMD_BIN, CLM_BIN, CLM_SOURCE_DIR, CLM_BUILD_DIR (set by
tests/CMakeLists.txt). Python 3 standard library only. CLM_README_KEEP=1
keeps the scratch directory of a failing run.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("CLM_SOURCE_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")
BUILD = os.environ.get("CLM_BUILD_DIR") or os.path.join(SRC, "build")
CLMD = os.environ.get("CLMD_BIN") or os.path.join(BUILD, "bin", "clmd")
CLM = os.environ.get("CLM_BIN") or os.path.join(BUILD, "bin", "clm")

README_URL = "tcp://127.0.0.1:7450"
README_EVENTS = "tcp://127.0.0.1:7451"
README_HTTP = "127.0.0.1:7452"
CMD_TIMEOUT_S = 300      # one command or snippet (a loaded, sanitized build)
START_TIMEOUT_S = 60     # clmd answering after it was started

TIME_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"
MARK_RE = re.compile(r"<!--\s*readme-test:\s*(\w+)\s*(.*?)\s*-->")
# What ld says of the sanitizer runtime a sanitized libclm brings along
# (CLM_SANITIZE builds only): not the README's to show.
SANITIZER_LD = re.compile(
    r"^\S*ld: \S*lib(?:asan|ubsan)\.so[.\d]*: warning: .*\n?", re.M)


class Block:
    def __init__(self, lang, lines, lineno, mark, arg):
        self.lang = lang          # "sh", "c", "python", "js", ""
        self.lines = lines        # its lines, without the fences
        self.lineno = lineno      # of the opening fence in README.md
        self.mark = mark          # "", "skip", "file", "output"
        self.arg = arg            # the rest of the mark


def parse_blocks(text):
    """The fenced code blocks of a Markdown text, with their marks."""
    blocks = []
    lines = text.split("\n")
    i = 0
    mark, arg, mark_line = "", "", -1
    while i < len(lines):
        m = MARK_RE.match(lines[i].strip())
        if m:
            mark, arg, mark_line = m.group(1), m.group(2), i
            i += 1
            continue
        if lines[i].startswith("```"):
            lang = lines[i][3:].strip()
            start = i
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            # A mark belongs to the block right after it.
            own = mark_line == start - 1
            blocks.append(Block(lang, body, start + 1,
                                mark if own else "", arg if own else ""))
            mark, arg, mark_line = "", "", -1
        i += 1
    return blocks


def commands_of(block):
    """[(command, [expected output lines])] of an sh block."""
    if not any(l.startswith("$ ") for l in block.lines):
        return [(l, None) for l in block.lines
                if l.strip() and not l.lstrip().startswith("#")]
    cmds = []
    i = 0
    lines = block.lines
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise SystemExit("README.md:%d: output before any command: %r"
                             % (block.lineno + i + 1, lines[i]))
        cmd = lines[i][2:]
        while cmd.endswith("\\") and i + 1 < len(lines):
            i += 1
            cmd = cmd + "\n" + lines[i]
        i += 1
        out = []
        while i < len(lines) and not lines[i].startswith("$ "):
            out.append(lines[i])
            i += 1
        cmds.append((cmd, out))
    return cmds


def output_regex(expected):
    """The regex a command's output must match in full (see the top)."""
    parts = []
    for line in expected:
        line = line.rstrip()
        if line in ("...", "…"):
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        pieces = re.split(r"(\.\.\.|…|" + TIME_RE + ")", line)
        rx = ""
        for k, p in enumerate(pieces):
            if k % 2 == 0:
                rx += re.escape(p)
            elif p in ("...", "…"):
                rx += r"[^\n]*"
            else:
                rx += TIME_RE
        parts.append(rx + r"[ \t]*\n")
    return re.compile("".join(parts))


def normalized(text):
    """text with trailing blanks dropped and one final newline."""
    lines = [l.rstrip() for l in text.replace("\r\n", "\n").split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    return "".join(l + "\n" for l in lines)


# Ports outside the ephemeral range, so no connection takes one first
# (tests/freeport.py).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import freeport  # noqa: E402

free_port = freeport.pick


class Runner:
    def __init__(self, work, url, events, http, env):
        self.work, self.url, self.events, self.env = work, url, events, env
        self.http = http
        self.failures = []
        self.ran = 0

    def fail(self, block, what):
        self.failures.append("README.md:%d: %s" % (block.lineno, what))
        print("FAIL README.md:%d: %s" % (block.lineno, what), flush=True)

    def run(self, argv, shell=False):
        p = subprocess.run(argv, cwd=self.work, env=self.env, shell=shell,
                           executable="/bin/bash" if shell else None,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=CMD_TIMEOUT_S)
        return p.returncode, p.stdout, p.stderr

    def sh_block(self, block):
        compare = block.mark != "output"
        for cmd, expected in commands_of(block):
            m = re.fullmatch(r"cat (\S+)", cmd.strip())
            if m and expected and not os.path.exists(
                    os.path.join(self.work, m.group(1))):
                with open(os.path.join(self.work, m.group(1)), "w") as f:
                    f.write("".join(l + "\n" for l in expected))
            rc, out, err = self.run(cmd.replace(README_HTTP, self.http),
                                    shell=True)
            self.ran += 1
            print("$ %s\n%s%s(exit %d)" % (cmd, out, err, rc), flush=True)
            if rc != 0:
                self.fail(block, "%r exited %d:\n%s%s" % (cmd, rc, out, err))
                continue
            if not compare or expected is None:
                continue
            got = normalized(out) + normalized(SANITIZER_LD.sub("", err))
            if not output_regex(expected).fullmatch(got):
                self.fail(block, "%r printed\n%s\nnot what README.md shows:\n%s"
                          % (cmd, got, "\n".join(expected)))

    def snippet(self, block, name, argv):
        code = "\n".join(block.lines) + "\n"
        code = code.replace(README_URL, self.url)
        code = code.replace(README_EVENTS, self.events)
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write(code)
        rc, out, err = self.run(argv + [path])
        self.ran += 1
        print("%s:\n%s%s(exit %d)" % (name, out, err, rc), flush=True)
        if rc != 0:
            self.fail(block, "the %s snippet exited %d:\n%s%s"
                      % (block.lang, rc, out, err))
            return
        claims = []
        for line in block.lines:
            m = re.search(r"(?:print\(|console\.log\().*?(?:#|//)\s*(\S+)",
                          line)
            if m:
                claims.append(m.group(1).strip("'\""))
        printed = out.split("\n")
        for k, claim in enumerate(claims):
            if k >= len(printed) or printed[k].split()[:1] != [claim]:
                self.fail(block, "line %d of its output should start with "
                          "%r (the comment says so), got %r"
                          % (k + 1, claim, printed[k] if k < len(printed)
                             else None))

    def block(self, block):
        if block.mark == "skip":
            print("skip README.md:%d %s" % (block.lineno, block.arg))
            return
        if block.mark == "file":
            with open(os.path.join(self.work, block.arg), "w") as f:
                f.write("\n".join(block.lines).replace(
                    README_URL, self.url) + "\n")
            return
        if block.lang == "sh":
            self.sh_block(block)
        elif block.lang == "python":
            self.snippet(block, "snippet.py", [sys.executable])
        elif block.lang == "js":
            self.snippet(block, "snippet.js", ["node"])
        else:
            self.fail(block, "a %r block without a readme-test mark: "
                      "the test does not know how to run it" % block.lang)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    with open(os.path.join(SRC, "README.md")) as f:
        blocks = parse_blocks(f.read())
    tmp = tempfile.mkdtemp(prefix="clm-readme-")
    work = os.path.join(tmp, "repo")
    os.mkdir(work)
    os.symlink(os.path.abspath(BUILD), os.path.join(work, "build"))
    for d in ("client", "include", "proto"):
        os.symlink(os.path.join(os.path.abspath(SRC), d),
                   os.path.join(work, d))
    port, events_port, http_port = free_port(), free_port(), free_port()
    while len({port, events_port, http_port}) < 3:
        events_port, http_port = free_port(), free_port()
    http = "127.0.0.1:%d" % http_port
    url = "tcp://127.0.0.1:%d" % port
    events = "tcp://127.0.0.1:%d" % events_port
    env = dict(os.environ, CLM_URL=url, CLM_EVENTS_URL=events)
    env.pop("CLM_TOKEN", None)
    # A sanitized libclm in an unsanitized program (the C snippet).
    asan = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + \
        "verify_asan_link_order=0"
    log = open(os.path.join(tmp, "clmd.log"), "w")
    clmd = subprocess.Popen(
        [CLMD, "--data", os.path.join(tmp, "data"), "--listen", url,
         "--events", events, "--http", http, "--log-level", "warn"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    ok = False
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and clmd.poll() is None:
            if subprocess.run([CLM, "--url", url, "--timeout", "2000",
                               "status"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            print("clmd did not start (log %s)" % log.name)
            return 1
        r = Runner(work, url, events, http, env)
        for b in blocks:
            r.block(b)
        if clmd.poll() is not None:
            r.failures.append("clmd exited %d during the run" % clmd.returncode)
        for f in r.failures:
            print("FAIL " + f.split("\n")[0])
        print("readme_test: %d blocks, %d commands and snippets run, %d failed"
              % (len(blocks), r.ran, len(r.failures)))
        ok = not r.failures and r.ran > 0
        return 0 if ok else 1
    finally:
        stop(clmd)
        log.close()
        if ok or not os.environ.get("CLM_README_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept " + tmp)


if __name__ == "__main__":
    sys.exit(main())

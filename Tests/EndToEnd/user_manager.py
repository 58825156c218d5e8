"""A real ``systemd --user`` manager for a throwaway user, in namespaces of its own.

PID 1 of the machines this project runs on is not systemd, and nothing a test does may change the real
system. So the manager gets a world of its own (``unshare --mount --pid --cgroup``, private mount
propagation), built the way a systemd-booted machine would have it:

* a cgroup v2 subtree of its own, created under the host's cgroup2 mount before unsharing, which is the
  root of the new cgroup namespace and is mounted on /sys/fs/cgroup inside;
* tmpfs on /run, /tmp, /var/tmp, /dev/shm, /home and /var/log/journal, and overlays (upper layers on
  that tmpfs) on /etc, /usr and /var, so that ``useradd`` and ``apt-get install ./x.deb`` change only
  this namespace;
* what systemd as PID 1 leaves in /run: /run/systemd/system, /run/systemd/unit-root (0700),
  /run/credentials and the /run/systemd/inaccessible/ nodes;
* systemd-journald, without audit capabilities, flushed to /var/log/journal so that the user can read
  their own journal (``systemctl --user status`` shows log lines);
* the user, /run/user/UID (0700, theirs) and user@UID.service's cgroup, handed to the user, where
  ``systemd --user --log-target=journal`` is exec'd with ``setpriv --reuid --regid --init-groups``.

Commands run inside with ``nsenter`` (``run``/``as_root``); files inside are reachable from outside
through /proc/PID/root (``path``). Everything lives in the namespace's tmpfs and overlays and goes with
it: the namespace's PID 1 reads its standard input until end of file, ``unshare`` dies with the test
process (--pdeathsig) and takes the namespace with it (--kill-child), and the only thing left outside,
the cgroup directory, is removed by ``close()`` or, if the test process is killed, by a watcher in its
own session; a later run also sweeps up any that a killed machine left behind.
"""

from __future__ import annotations

import os
import secrets
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

USER_PREFIX = "gcdtest"
CGROUP_PREFIX = "gigachatd-test-"
SYSTEMD = "/lib/systemd/systemd"
JOURNALD = "/lib/systemd/systemd-journald"
TOOLS = ("unshare", "nsenter", "setpriv", "useradd", "mount", "make")
PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

# Runs as PID 1 of the new PID namespace, as root, with a private copy of the mount table.
INSIDE = r'''
set -euo pipefail
user=$1
mount -t tmpfs -o mode=0755 tmpfs /run
for d in etc usr var; do
  mkdir -p /run/gcd-overlay/$d/upper /run/gcd-overlay/$d/work
  mount -t overlay overlay -o lowerdir=/$d,upperdir=/run/gcd-overlay/$d/upper,workdir=/run/gcd-overlay/$d/work /$d
done
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /home
mkdir -p /var/log/journal
mount -t tmpfs -o mode=2755 tmpfs /var/log/journal
chgrp systemd-journal /var/log/journal 2>/dev/null || true

mkdir -p /run/systemd/system /run/credentials /run/lock /run/systemd/inaccessible
install -d -m 0700 /run/systemd/unit-root
(
  cd /run/systemd/inaccessible
  install -d -m 0000 dir; install -m 0000 /dev/null reg; mkfifo -m 0000 fifo
  mknod -m 0000 chr c 0 0; mknod -m 0000 blk b 0 0
  python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' sock; chmod 0000 sock
)

mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir /sys/fs/cgroup/init.scope
echo $$ > /sys/fs/cgroup/init.scope/cgroup.procs

jcg=/sys/fs/cgroup/system.slice/systemd-journald.service
mkdir -p $jcg
( echo $BASHPID > $jcg/cgroup.procs
  exec setpriv --bounding-set=-audit_control,-audit_read,-audit_write -- @JOURNALD@
) </dev/null >/run/journald.log 2>&1 &
journald=$!
for _ in $(seq 200); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
[ -S /run/systemd/journal/socket ] || { echo "systemd-journald did not start" >&2; cat /run/journald.log >&2; exit 1; }
kill -USR1 $journald   # flush: from now on the journal is in /var/log/journal, one file per user
for _ in $(seq 200); do [ -e /run/systemd/journal/flushed ] && break; sleep 0.05; done

useradd --create-home --home-dir /home/$user --shell /bin/sh --user-group $user
uid=$(id -u $user); gid=$(id -g $user)
install -d -m 0700 -o $uid -g $gid /run/user/$uid
ucg=/sys/fs/cgroup/user.slice/user-$uid.slice/user@$uid.service
mkdir -p $ucg
chown $uid:$gid $ucg $ucg/cgroup.procs $ucg/cgroup.subtree_control $ucg/cgroup.threads
( echo $BASHPID > $ucg/cgroup.procs
  exec setpriv --reuid=$uid --regid=$gid --init-groups -- env -i HOME=/home/$user USER=$user \
    LOGNAME=$user SHELL=/bin/sh PATH=@PATH@ XDG_RUNTIME_DIR=/run/user/$uid LANG=C.UTF-8 \
    @SYSTEMD@ --user --log-target=journal
) </dev/null >/run/manager.log 2>&1 &
for _ in $(seq 400); do [ -S /run/user/$uid/systemd/private ] && break; sleep 0.05; done
[ -S /run/user/$uid/systemd/private ] || { echo "systemd --user did not start" >&2; cat /run/manager.log >&2; exit 1; }
echo "ready $uid $gid"
read -r _ || true
'''.replace("@JOURNALD@", JOURNALD).replace("@SYSTEMD@", SYSTEMD).replace("@PATH@", PATH)

# Runs in a session of its own: when the test process is gone (killed, say), the namespace went with it;
# what is left is the empty cgroup tree, removed here as soon as the kernel has reaped the processes.
WATCHER = r'''
while kill -0 "$1" 2>/dev/null; do sleep 1; done
for _ in $(seq 60); do
  find "$2" -depth -type d -exec rmdir {} + 2>/dev/null
  [ -d "$2" ] || exit 0
  sleep 1
done
'''


class UserManagerUnavailable(Exception):
    pass


def _cgroup2_parent() -> Path:
    """The host's cgroup2 mount: /sys/fs/cgroup/unified on a hybrid hierarchy, else /sys/fs/cgroup."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            mounts[fields[4]] = fields[sep + 1]
    for candidate in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if mounts.get(candidate) == "cgroup2":
            return Path(candidate)
    raise UserManagerUnavailable("no cgroup2 hierarchy mounted at /sys/fs/cgroup/unified or /sys/fs/cgroup")


def unavailable_reason() -> Optional[str]:
    """Why a user manager cannot be started here, or None."""
    if os.geteuid() != 0:
        return "needs root (mount, PID and cgroup namespaces, a throwaway user)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    missing += [p for p in (SYSTEMD, JOURNALD) if not os.access(p, os.X_OK)]
    if missing:
        return f"missing: {', '.join(missing)} (Debian packages systemd, util-linux, passwd, make)"
    try:
        _cgroup2_parent()
    except UserManagerUnavailable as e:
        return str(e)
    return None


def _rmdir_tree(path: Path) -> None:
    for dirpath, dirnames, _ in os.walk(path, topdown=False):
        for d in dirnames:
            try:
                os.rmdir(os.path.join(dirpath, d))
            except FileNotFoundError:
                pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def remove_cgroup(path: Path, timeout: float = 15.0) -> bool:
    """Remove a cgroup tree once its processes are gone (they may take a moment to be reaped)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _rmdir_tree(path)
        except OSError:
            pass
        if not path.exists():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def sweep_stale_cgroups() -> None:
    """Remove cgroups that earlier runs, killed with their machine, left behind (their owner is gone)."""
    try:
        parent = _cgroup2_parent()
    except UserManagerUnavailable:
        return
    for entry in parent.glob(CGROUP_PREFIX + "*"):
        owner = entry.name[len(CGROUP_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            remove_cgroup(entry, timeout=2.0)


class UserManager:
    """``UserManager(log_dir).start()``; ``close()`` when done (or use it as a context manager)."""

    def __init__(self, log_dir: Path, user: Optional[str] = None) -> None:
        self.log_dir = log_dir
        # A name no account on the machine has (the namespace's /etc starts as a copy of the real one).
        self.user = user or f"{USER_PREFIX}{secrets.token_hex(3)}"
        self.uid = -1
        self.gid = -1
        self.pid = -1  # the namespace's PID 1, as the host sees it
        self.cgroup: Optional[Path] = None
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.watcher: Optional[subprocess.Popen[bytes]] = None
        self.log_path = log_dir / "user-manager.log"

    @property
    def home(self) -> str:
        return f"/home/{self.user}"

    @property
    def runtime_dir(self) -> str:
        return f"/run/user/{self.uid}"

    # -- lifecycle
    def start(self, timeout: float = 60.0) -> "UserManager":
        reason = unavailable_reason()
        if reason:
            raise UserManagerUnavailable(reason)
        sweep_stale_cgroups()
        self.cgroup = _cgroup2_parent() / f"{CGROUP_PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
        self.cgroup.mkdir()
        self.watcher = subprocess.Popen(
            ["sh", "-c", WATCHER, "gigachatd-test-watcher", str(os.getpid()), str(self.cgroup)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        argv = [
            "sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(self.cgroup),
            "setpriv", "--pdeathsig", "KILL", "--",
            "unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc",
            "--cgroup", "--", "bash", "-c", INSIDE, "gigachatd-test-namespace", self.user,
        ]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                env={"PATH": PATH, "LANG": "C.UTF-8"},
            )
        assert self.proc.stdout is not None
        line = self._read_line(self.proc.stdout.fileno(), timeout)
        if not line.startswith("ready "):
            raise UserManagerUnavailable(f"the user manager did not start: {line!r}\n{self.log()}")
        _, uid, gid = line.split()
        self.uid, self.gid = int(uid), int(gid)
        procs = (self.cgroup / "init.scope" / "cgroup.procs").read_text().split()
        if len(procs) != 1:
            raise UserManagerUnavailable(f"expected one process in init.scope, found {procs}")
        self.pid = int(procs[0])
        return self

    def _read_line(self, fd: int, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        data = b""
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise UserManagerUnavailable(f"no word from the namespace within {timeout:.0f}s\n{self.log()}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                data += chunk
        return data.decode("utf-8", "replace").strip()

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.stdin is not None:
                try:
                    proc.stdin.close()  # PID 1 inside reads to end of file, then everything inside ends
                except OSError:
                    pass
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()  # unshare: --kill-child takes the namespace with it
                proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()
        if self.cgroup is not None and remove_cgroup(self.cgroup):
            self.cgroup = None
        watcher, self.watcher = self.watcher, None
        if watcher is not None and self.cgroup is None:
            watcher.kill()
            watcher.wait(5)

    def __enter__(self) -> "UserManager":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    # -- inside
    def path(self, inside: str) -> Path:
        """A path inside the namespace, as the host reaches it."""
        return Path(f"/proc/{self.pid}/root") / inside.lstrip("/")

    def user_env(self, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
        env = {
            "HOME": self.home, "USER": self.user, "LOGNAME": self.user, "SHELL": "/bin/sh",
            "PATH": f"{self.home}/.local/bin:{PATH}", "XDG_RUNTIME_DIR": self.runtime_dir,
            "LANG": "C.UTF-8", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0", "NO_COLOR": "1",
        }
        env.update(extra or {})
        return env

    def argv(self, command: Sequence[str], *, root: bool = False, env: Optional[dict[str, str]] = None) -> list[str]:
        enter = ["nsenter", f"--target={self.pid}", "--mount", "--pid", "--cgroup",
                 f"--wdns={'/' if root else self.home}", "--"]
        if root:
            environment = {"PATH": PATH, "LANG": "C.UTF-8", "HOME": "/root", "DEBIAN_FRONTEND": "noninteractive"}
            environment.update(env or {})
            return [*enter, "env", "-i", *(f"{k}={v}" for k, v in environment.items()), *command]
        return [*enter, "setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--",
                "env", "-i", *(f"{k}={v}" for k, v in self.user_env(env).items()), *command]

    def run(self, *command: str, root: bool = False, input: Optional[str] = None, timeout: float = 30.0,
            check: bool = False, env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
        """A command inside, as the user (or root); its output as text."""
        result = subprocess.run(
            self.argv(command, root=root, env=env), input=input, capture_output=True, text=True,
            timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited with {result.returncode}\n--- stdout ---\n{result.stdout}"
                f"\n--- stderr ---\n{result.stderr}"
            )
        return result

    def write_file(self, path: str, text: str, mode: str = "600") -> None:
        """Replace a file as the user does with an editor: a new file, then renamed over the old one."""
        self.run("sh", "-c", 'umask 077 && mkdir -p "$(dirname "$1")" && cat > "$1.new" && chmod "$2" "$1.new" '
                 '&& mv "$1.new" "$1"', "write_file", path, mode, input=text, check=True)

    def popen(self, *command: str, env: Optional[dict[str, str]] = None) -> subprocess.Popen[bytes]:
        """A command inside, as the user, with piped output, to watch while it runs."""
        return subprocess.Popen(self.argv(command, env=env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def systemctl(self, *args: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return self.run("systemctl", "--user", "--no-pager", *args, check=check, timeout=timeout)

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        out = self.systemctl("show", unit, *(f"--property={p}" for p in properties)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def status(self, *units: str) -> str:
        result = self.systemctl("status", "--lines=20", "--full", *units, check=False)
        return result.stdout + result.stderr

    def wait_for(self, what: str, predicate: Callable[[], bool], timeout: float, *,
                 diagnostics: Optional[Callable[[], str]] = None, interval: float = 0.1) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                extra = diagnostics() if diagnostics else self.status("gigachatd.socket", "gigachatd.service")
                raise AssertionError(f"{what}: not within {timeout:.0f}s\n{extra}")
            time.sleep(interval)

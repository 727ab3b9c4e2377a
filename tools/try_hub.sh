#!/usr/bin/env bash
# try_hub.sh: run the course for a small class on one server with JupyterHub, end to end, and measure it.
#
#   sudo bash tools/try_hub.sh            # as root; WORK=/tmp/hub, USERS="learner1 learner2 learner3"
#
# Not part of CI. Needs: Linux as root (it creates users and a network namespace), python3.11 with venv,
# npm, Chromium at /usr/bin/chromium, and a package registry for pip and npm (the first run only).
#  1. Makes a venv in $WORK/venv with jupyterhub==6.1.1 and the course installed the way the README says
#     for a hub (tools/install.py, jupyterhub, then pip install -e .); fails if a CUDA package came along.
#  2. npm-installs configurable-http-proxy (the hub's proxy) into $WORK.
#  3. Creates the Linux users $USERS in the group `learners`, with a random password, and $OUTSIDER, who
#     has the same password but is not in the group (the hub must turn them away).
#  4. Starts JupyterHub with docs/jupyterhub_config.py inside a new network namespace that has only a
#     loopback interface, so nothing can leave the machine; a Python audit hook in the hub, the learners'
#     servers and their kernels records every connection and DNS lookup to anything but localhost.
#     Test-only additions: window.jupyterapp exposed (to run the cells), every cell kept in the DOM.
#  5. In headless Chromium (Playwright): checks $OUTSIDER cannot log in; logs every learner in at the same
#     moment (the hub starts their servers side by side); then, one learner at a time: checks the hub gave
#     them their own copy of the notebooks, opens $NOTEBOOKS (00_start_here, 05_multi_head_attention), runs all cells
#     and checks: no error output, no error in the kernel or the browser console, the set-up check of 00
#     passes, an ipympl canvas is drawn, the attention view of 05 draws its tokens (SVG text inside
#     [data-attention-hands-on-view]), no request outside localhost. The checks are the browser suite's
#     (tests/browser). Measures the RSS of the learner's server, the peak RSS (VmHWM) and CPU time of each kernel.
#  6. Measures the hub's and the proxy's RSS with every learner's server running, stops the hub, then
#     deletes the test users and their homes (KEEP_USERS=1 keeps them).
# Output: $WORK/results.json, $WORK/hub.log, screenshots in $WORK/screenshots/<user>/. Exit 0 only if
# every check passed for every learner. About 5 min on 2 cores; the first install takes 8 more.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-/tmp/hub}
USERS=${USERS:-"learner1 learner2 learner3"}
OUTSIDER=${OUTSIDER:-notalearner}  # has an account and the same password, but is not in the group learners
NOTEBOOKS=${NOTEBOOKS:-"00_start_here.ipynb 05_multi_head_attention.ipynb"}
PYTHON=${PYTHON:-/usr/bin/python3.11}
HUB_URL=http://127.0.0.1:8000

if [[ "${1:-}" == "--inside" ]]; then
    # Step 4 and 5, run by the outer part inside `unshare --net`: only loopback exists here.
    ip link set lo up
    rm -rf "$WORK/state" "$WORK/netlog" "$WORK/screenshots"
    mkdir -p "$WORK/state" "$WORK/netlog"
    chmod 1777 "$WORK/netlog"
    cd "$WORK/state"
    # The audit hook must record a look-up of a name outside: try one, then start with an empty log.
    PYTHONPATH="$WORK/audit" "$WORK/venv/bin/python" -c \
        "import socket; socket.getaddrinfo('example.invalid', 80)" 2>/dev/null || true
    grep -q "getaddrinfo example.invalid" "$WORK"/netlog/* || { echo "The audit hook records nothing." >&2; exit 1; }
    rm -f "$WORK"/netlog/*
    PATH="$WORK/node_modules/.bin:$PATH" PYTHONPATH="$WORK/audit" \
        "$WORK/venv/bin/jupyterhub" -f "$WORK/test_config.py" >"$WORK/hub.log" 2>&1 &
    echo $! >"$WORK/hub.pid"
    for _ in $(seq 120); do
        "$WORK/venv/bin/python" -c "import urllib.request as u; u.urlopen('$HUB_URL/hub/api', timeout=2)" \
            2>/dev/null && break
        sleep 1
    done
    status=0
    TRY_HUB_PASSWORD="$PASSWORD" nice -n 5 "$WORK/venv/bin/python" "$WORK/drive.py" \
        "$REPO" "$WORK" "$HUB_URL" "$USERS" "$NOTEBOOKS" "$OUTSIDER" || status=$?
    kill -TERM "$(cat "$WORK/hub.pid")" 2>/dev/null || true  # the hub stops the servers and the proxy
    for _ in $(seq 30); do kill -0 "$(cat "$WORK/hub.pid")" 2>/dev/null || break; sleep 1; done
    if compgen -G "$WORK/netlog/*" >/dev/null; then
        echo "Connections or DNS look-ups outside localhost:"; cat "$WORK"/netlog/*; status=1
    else
        echo "No process of the hub, the servers or the kernels tried to reach anything outside localhost."
    fi
    exit "$status"
fi

[[ $(id -u) == 0 ]] || { echo "Run as root: it creates users and a network namespace." >&2; exit 1; }
mkdir -p "$WORK"

# 1. The hub's environment, with the course in it.
stamp=$(cat "$REPO/requirements.txt" "$REPO/requirements-files.txt" <(echo jupyterhub==6.1.1) | sha256sum | cut -c1-16)
if [[ "$(cat "$WORK/venv/.installed" 2>/dev/null)" != "$stamp" ]]; then
    "$PYTHON" -m venv "$WORK/venv"
    "$WORK/venv/bin/python" "$REPO/tools/install.py"  # the learner's install, as make install runs it
    "$WORK/venv/bin/pip" install --quiet jupyterhub==6.1.1
    "$WORK/venv/bin/pip" install --quiet --no-deps -e "$REPO"
    echo "$stamp" >"$WORK/venv/.installed"
fi
if "$WORK/venv/bin/pip" list 2>/dev/null | grep -i nvidia; then
    echo "A CUDA build of torch came along; the course pins the CPU build." >&2; exit 1
fi

# 2. The proxy.
[[ -x "$WORK/node_modules/.bin/configurable-http-proxy" ]] ||
    (cd "$WORK" && npm install --no-audit --no-fund --silent configurable-http-proxy@5.3.0)

# 3. The learners.
PASSWORD=$("$WORK/venv/bin/python" -c "import secrets; print(secrets.token_hex(12))")
export PASSWORD
for user in $USERS $OUTSIDER; do
    if id "$user" >/dev/null 2>&1; then
        echo "The user $user exists already: delete it (userdel -r $user) or name others in USERS / OUTSIDER." >&2
        exit 1
    fi
done
new_group=0
getent group learners >/dev/null || { groupadd learners; new_group=1; }
cleanup() {
    [[ "${KEEP_USERS:-0}" == 1 ]] && return
    for user in $USERS $OUTSIDER; do
        for pid in $(pgrep -u "$user" || true); do kill -KILL "$pid" 2>/dev/null || true; done
        userdel -r "$user" 2>/dev/null || true
    done
    [[ $new_group == 1 ]] && groupdel learners
    return 0
}
trap cleanup EXIT
for user in $USERS; do
    useradd -m -s /bin/bash -G learners "$user"
    echo "$user:$PASSWORD" | chpasswd
    home=$(getent passwd "$user" | cut -d: -f6)
    # Test-only JupyterLab settings: every cell kept in the DOM (so outputs far down can be inspected),
    # no news or update notifications over the widgets.
    settings="$home/.jupyter/lab/user-settings/@jupyterlab"
    mkdir -p "$settings/notebook-extension" "$settings/apputils-extension"
    echo '{"windowingMode": "none"}' >"$settings/notebook-extension/tracker.jupyterlab-settings"
    echo '{"fetchNews": "false", "checkForUpdates": false, "doNotDisturbMode": true}' \
        >"$settings/apputils-extension/notification.jupyterlab-settings"
    chown -R "$user:$user" "$home/.jupyter"
done
useradd -m -s /bin/bash "$OUTSIDER"
echo "$OUTSIDER:$PASSWORD" | chpasswd

# 4. The hub's configuration: the repository's, plus what the browser checks need.
cat >"$WORK/test_config.py" <<EOF
load_subconfig("$REPO/docs/jupyterhub_config.py")
c.Spawner.args = [*c.Spawner.args, "--LabApp.expose_app_in_browser=True"]
EOF
mkdir -p "$WORK/audit"
cat >"$WORK/audit/sitecustomize.py" <<'EOF'
"""Test-only: record every connection or DNS look-up to anything but localhost, one file per process."""
import os
import sys

LOCAL = {"", "None", "localhost", "::1", "0.0.0.0", "::"}
LOG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "netlog")


def _record(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple):
        host = str(args[1][0])
    elif event == "socket.getaddrinfo":
        host = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    else:
        return
    if host in LOCAL or host.startswith("127."):
        return
    with open(os.path.join(LOG, f"{os.getuid()}-{os.getpid()}"), "a") as log:
        log.write(f"{event} {host} from {' '.join(sys.argv)[:200]}\n")


sys.addaudithook(_record)
EOF
cat >"$WORK/drive.py" <<'EOF'
"""Log each learner in to the hub in headless Chromium, run lessons, check them, measure memory."""

import json
import os
import pwd
import sys
from pathlib import Path
from urllib.parse import urlsplit

os.environ.setdefault("COURSE_RUN_ALL_TIMEOUT", "900")  # a shared 2-core machine may be busy
REPO, WORK, HUB = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
USERS, NOTEBOOKS, PASSWORD = sys.argv[4].split(), sys.argv[5].split(), os.environ["TRY_HUB_PASSWORD"]
OUTSIDER = sys.argv[6]  # a Linux user with the same password, not in the group learners
FOLDER = "attention-hands-on"
sys.path.insert(0, str(REPO / "tests" / "browser"))
from conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from test_notebooks_in_browser import NotebookSession  # noqa: E402

MIB = 1024


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kib(pid, field):
    """A VmRSS / VmHWM line of /proc/<pid>/status, in KiB (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def processes():
    """[(pid, uid, cmdline)] of every process."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            uid = int(
                next(line for line in (entry / "status").read_text().splitlines() if line.startswith("Uid:")).split()[1]
            )
        except (OSError, StopIteration):
            continue
        found.append((int(entry.name), uid, cmdline))
    return found


def pids(uid=None, contains=""):
    return [pid for pid, owner, cmd in processes() if (uid is None or owner == uid) and contains in cmd]


def is_local(url):
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome", "chrome-extension", "devtools"):
        return True
    host = parts.hostname or ""
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


class Watched:
    """What NotebookSession expects of the browser suite's lab_page fixture."""

    def __init__(self, page, shots):
        self.page, self.screenshots_dir, self.viewport = page, shots, dict(VIEWPORT)
        self.console_errors, self.external_requests, self.console_messages = [], [], []


class HubLab:
    """What NotebookSession expects of the jupyter_lab fixture, for one learner's server behind the hub."""

    def __init__(self, user):
        self.user = user

    def notebook_path(self, name):
        return f"{FOLDER}/{name}"

    def lab_url(self, name):
        return f"{HUB}/user/{self.user}/lab/tree/{self.notebook_path(name)}?reset"

    def log_tail(self, chars=4000):
        return (WORK / "hub.log").read_text(errors="replace")[-chars:]


def open_page(browser, user):
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    watched = Watched(None, WORK / "screenshots" / user)

    def guard(route):
        if is_local(route.request.url):
            route.continue_()
        else:
            watched.external_requests.append(f"{route.request.method} {route.request.url}")
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(60_000)

    def on_console(message):
        watched.console_messages.append(f"[{message.type}] {message.text[:500]}")
        if message.type == "error":
            watched.console_errors.append(f"console.error: {message.text[:1000]}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.console_errors.append(f"uncaught exception: {error}"))
    page.on("websocket", lambda ws: None if is_local(ws.url) else watched.external_requests.append(f"WS {ws.url}"))
    watched.page = page
    return context, watched


def submit_login(page, user):
    page.goto(f"{HUB}/hub/login", wait_until="domcontentloaded")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit", no_wait_after=True)


def start_seconds():
    """{user: seconds} from the hub's log lines "User <name> took <s> seconds to start"."""
    found = {}
    for line in (WORK / "hub.log").read_text(errors="replace").splitlines():
        if " took " in line and " seconds to start" in line:
            words = line.split()
            found[words[words.index("took") - 1]] = float(words[words.index("took") + 1])
    return found


def outsider_kept_out(browser):
    """A Linux user with a valid password but not in the group learners must not get a server."""
    context = browser.new_context()
    page = context.new_page()
    submit_login(page, OUTSIDER)
    page.wait_for_load_state("load")
    page.wait_for_timeout(2000)
    url, text = page.url, page.inner_text("body")
    context.close()
    return "/user/" not in url and not pids(pwd.getpwnam(OUTSIDER).pw_uid), f"{url} {' '.join(text.split())[:200]}"


def kernel_id(page, path):
    return page.evaluate(
        """(path) => {
          for (const w of window.jupyterapp.shell.widgets('main')) {
            const session = w.context && w.context.path === path && w.sessionContext.session;
            if (session && session.kernel) return session.kernel.id;
          }
          return null;
        }""",
        path,
    )


def lesson_checks(session, name):
    """The checks of this run beyond NotebookSession's own: the set-up check, the figures, the views."""
    page, problems = session.page, []
    if name.startswith("00_"):
        cells = session.js("cells", session.path)
        text = "".join(o.get("text") or "" for c in cells for o in c["outputs"] if o["type"] == "stream")
        if "All set: every check passed." not in text or "✗ torch" in text:
            problems.append("00: the set-up check did not pass")
    canvases = page.evaluate("() => document.querySelectorAll('.jupyter-matplotlib-canvas-div canvas').length")
    if not canvases:
        problems.append(f"{name}: no ipympl canvas rendered")
    views = page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-attention-hands-on-view]')).map(
              (el) => Array.from(el.querySelectorAll('svg text')).map((t) => t.textContent))"""
    )
    if name.startswith("05_") and not any("animal" in texts for texts in views):
        problems.append(f"05: no attention view drew the tokens (views: {[len(v) for v in views]})")
    return problems, {"ipympl_canvases": canvases, "views_with_tokens": sum(bool(v) for v in views)}


def main():
    results = {"users": {}, "problems": []}
    hub_pid = int((WORK / "hub.pid").read_text())
    results["hub_rss_mib_before_logins"] = round(status_kib(hub_pid, "VmRSS") / MIB)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        kept_out, seen_by_outsider = outsider_kept_out(browser)
        results["outsider_kept_out"] = kept_out
        if not kept_out:
            results["problems"].append(f"{OUTSIDER}, not in the group learners, got in: {seen_by_outsider}")
        # Every learner logs in at the same moment: the hub starts their servers side by side.
        pages = {user: open_page(browser, user) for user in USERS}
        for user in USERS:
            submit_login(pages[user][1].page, user)
        for user in USERS:
            # The hub shows its spawn-pending page, then redirects to the server's default URL.
            pages[user][1].page.wait_for_url(f"**/user/{user}/lab/**", timeout=300_000)
        starts = start_seconds()
        for user in USERS:
            uid = pwd.getpwnam(user).pw_uid
            home = Path(pwd.getpwnam(user).pw_dir)
            record = results["users"][user] = {"lessons": {}, "problems": []}
            context, watched = pages[user]
            record["server_start_s"] = starts.get(user)
            server = next(iter(pids(uid, "jupyterhub-singleuser")), None)
            record["server_rss_mib_after_login"] = round(status_kib(server, "VmRSS") / MIB) if server else None
            record["server_cpu_s_after_login"] = round(cpu_seconds(server), 1) if server else None
            environ = Path(f"/proc/{server}/environ").read_bytes().split(b"\0") if server else []
            if f"PYTHONPATH={WORK / 'audit'}".encode() not in environ:
                record["problems"].append("the network audit hook is not in the server's environment")
            copy = home / FOLDER
            record["own_copy"] = copy.is_dir() and copy.stat().st_uid == uid
            if not record["own_copy"]:
                record["problems"].append(f"{copy} missing or not owned by {user}")
            for name in NOTEBOOKS:
                session = NotebookSession(watched, HubLab(user), name)
                try:
                    session.open()
                    session.run_all()
                    problems = session.check_run()
                    more, seen = lesson_checks(session, name)
                    problems += more + session.check_kernel_messages() + session.check_console()
                    session.full_screenshot()
                    if name.startswith("05_"):
                        view = watched.page.locator("[data-attention-hands-on-view]").first
                        session.screenshot("attention-view", view)
                except BaseException as error:  # pytest.fail raises an OutcomeException
                    problems, seen = [f"{name}: {type(error).__name__}: {str(error)[:2000]}"], {}
                kid = kernel_id(watched.page, session.path)
                kernel = next(iter(pids(uid, f"kernel-{kid}.json")), None) if kid else None
                server = next(iter(pids(uid, "jupyterhub-singleuser")), None)
                record["lessons"][name] = {
                    **seen,
                    "run_all_s": session.report.get("run_all_seconds"),
                    "kernel_peak_mib": round(status_kib(kernel, "VmHWM") / MIB) if kernel else None,
                    "kernel_rss_mib": round(status_kib(kernel, "VmRSS") / MIB) if kernel else None,
                    "kernel_cpu_s": round(cpu_seconds(kernel), 1) if kernel else None,
                    "server_rss_mib": round(status_kib(server, "VmRSS") / MIB) if server else None,
                }
                record["problems"] += problems
            # Everything this learner's account runs now: their server and every lesson's kernel.
            record["all_processes_rss_mib"] = round(sum(status_kib(p, "VmRSS") for p in pids(uid)) / MIB)
            record["progress_file"] = (home / ".attention_hands_on" / "progress.json").is_file()
            record["external_requests_blocked"] = watched.external_requests
            if watched.external_requests:
                record["problems"].append(f"requests outside this machine: {watched.external_requests}")
            context.close()
            print(json.dumps({user: record}, indent=1), flush=True)
        browser.close()
    proxy = pids(None, "configurable-http-proxy")
    results["hub_rss_mib"] = round(status_kib(hub_pid, "VmRSS") / MIB)
    results["proxy_rss_mib"] = round(sum(status_kib(p, "VmRSS") for p in proxy) / MIB)
    (WORK / "results.json").write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    outcome = main()
    failed = {user: r["problems"] for user, r in outcome["users"].items() if r["problems"]}
    if outcome["problems"]:
        failed["hub"] = outcome["problems"]
    print(
        f"hub {outcome['hub_rss_mib_before_logins']} MiB before any login, {outcome['hub_rss_mib']} MiB after; "
        f"proxy {outcome['proxy_rss_mib']} MiB; {OUTSIDER} (not in learners) kept out: {outcome['outsider_kept_out']}"
    )
    for user, record in outcome["users"].items():
        for name, lesson in record["lessons"].items():
            print(
                f"{user} {name}: run {lesson['run_all_s']} s, kernel peak {lesson['kernel_peak_mib']} MiB, "
                f"kernel CPU {lesson['kernel_cpu_s']} s, server {lesson['server_rss_mib']} MiB"
            )
        print(
            f"{user}: server started in {record['server_start_s']} s, {record['server_cpu_s_after_login']} s CPU, "
            f"{record['server_rss_mib_after_login']} MiB"
        )
        print(f"{user}: all their processes {record['all_processes_rss_mib']} MiB, with every lesson's kernel open")
    if failed:
        print("PROBLEMS:", json.dumps(failed, indent=1))
        sys.exit(1)
    print("OK: every learner ran every lesson, and every check in the browser passed")
EOF

# 5. Everything that talks, inside a network namespace with loopback only.
nice -n 10 unshare --net bash "${BASH_SOURCE[0]}" --inside

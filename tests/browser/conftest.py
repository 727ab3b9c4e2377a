"""Fixtures of the browser suite: a real JupyterLab server and a headless Chromium.

The notebooks are copied to a temporary directory before the server starts, so running
their cells in the browser never touches the committed files. The server is told not to
fetch news or check for updates, and every test blocks and records any request that
leaves localhost.

Environment variables:
  COURSE_NOTEBOOKS_DIR  folder of the notebooks to test (default: <repo>/notebooks)
  REQUIRE_BROWSER=1     fail, instead of skip, when Chromium or Playwright is missing
  CHROMIUM_EXECUTABLE   Chromium to drive (default: /usr/bin/chromium)
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = Path(os.environ.get("COURSE_NOTEBOOKS_DIR") or REPO_ROOT / "notebooks").resolve()
SCREENSHOTS_DIR = REPO_ROOT / ".browser-screenshots"
CHROMIUM = Path(os.environ.get("CHROMIUM_EXECUTABLE") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1400, "height": 1000}
LAB_SUBDIR = "notebooks"  # the copies live in <server root>/notebooks/, as in the repo
SERVER_START_TIMEOUT = 90.0
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}

# JupyterLab user settings written to a fresh settings folder: no news, no update check,
# no toasts over the widgets, and every cell attached to the DOM (no virtual scrolling),
# so outputs far down a notebook are rendered and can be inspected.
LAB_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def discover_notebooks():
    """Names of the notebooks to test, sorted."""
    if not NOTEBOOKS_DIR.is_dir():
        return []
    return sorted(path.name for path in NOTEBOOKS_DIR.glob("*.ipynb"))


def pytest_generate_tests(metafunc):
    if "notebook_name" in metafunc.fixturenames:
        names = discover_notebooks()
        if names:
            metafunc.parametrize("notebook_name", names, ids=names)
        else:
            reason = f"no notebooks (*.ipynb) in {NOTEBOOKS_DIR}"
            metafunc.parametrize(
                "notebook_name", [pytest.param(None, marks=pytest.mark.skip(reason=reason))], ids=["no-notebooks"]
            )


def _missing_browser_reason():
    if not CHROMIUM.exists():
        return (
            f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` "
            "(Playwright cannot download its own browser here), or set CHROMIUM_EXECUTABLE."
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return f"Playwright is not importable ({error}): `pip install -r requirements-dev.txt`."
    return None


@pytest.fixture(scope="session", autouse=True)
def _browser_available():
    """Skip the browser suite when Chromium is missing, or fail when REQUIRE_BROWSER=1."""
    reason = _missing_browser_reason()
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but the browser suite cannot run. {reason}", pytrace=False)
        pytest.skip(reason)


# --------------------------------------------------------------------------- server


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children_by_parent():
    """{parent pid: [child pids]} read from /proc (Linux); {} elsewhere."""
    tree = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: the ppid follows the last ")".
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1:
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _descendants(pid):
    tree, found, todo = _children_by_parent(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is gone for our purpose.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


@dataclass
class JupyterLab:
    """A running JupyterLab server and the copies of the notebooks it serves."""

    process: subprocess.Popen
    port: int
    token: str
    root: Path
    log_path: Path

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def notebook_path(self, name):
        """The server-relative path of a copied notebook."""
        return f"{LAB_SUBDIR}/{name}"

    def lab_url(self, name):
        # reset: start from an empty workspace. Without it JupyterLab restores the tabs of the
        # previous test's page too, and each restored notebook starts one more kernel.
        return f"{self.base_url}/lab/tree/{self.notebook_path(name)}?reset&token={self.token}"

    def api(self, method, path, timeout=10.0):
        """Call the server's REST API with the token; returns the decoded JSON (or None)."""
        request = urllib.request.Request(
            f"{self.base_url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        # An empty ProxyHandler: never send requests for 127.0.0.1 through an http_proxy.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, chars=4000):
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no server log)"

    def shutdown_kernels(self):
        """Delete every session and kernel, so that one notebook's kernel does not outlive its test."""
        for session in self.api("GET", "/api/sessions") or []:
            try:
                self.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)
            except urllib.error.HTTPError:
                pass
        for kernel in self.api("GET", "/api/kernels") or []:
            try:
                self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=30)
            except urllib.error.HTTPError:
                pass


def _write_user_settings(settings_dir):
    for plugin, values in LAB_USER_SETTINGS.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2))


def _server_command(port, token, root, workdir):
    return [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--allow-root",  # CI and the dev machines run as root; harmless otherwise
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # fail loudly instead of silently moving to another port
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to run the cells
        # No outside request from the server: no news feed, no PyPI update check, no
        # extension manager listing PyPI.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        # Fresh settings and workspaces: nothing from the developer's own JupyterLab.
        f"--LabApp.user_settings_dir={workdir / 'lab-settings'}",
        f"--LabApp.workspaces_dir={workdir / 'lab-workspaces'}",
    ]


def _server_env(workdir):
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        path = workdir / name.lower()
        path.mkdir(exist_ok=True)
        env[name] = str(path)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    # No "is the build up to date?" check on each page load: it scans the extensions for
    # seconds on a 2-core machine and only matters to someone installing extensions.
    labconfig = workdir / "jupyter_config_dir" / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(json.dumps({"buildCheck": False, "buildAvailable": False}))
    # The kernels must import the course's helpers even though the notebooks are copies.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    for name in ("JUPYTER_TOKEN", "JUPYTER_PORT", "JUPYTER_PREFER_ENV_PATH"):
        env.pop(name, None)
    return env


def _start_server(workdir, root, env):
    log_path = workdir / "jupyter-lab.log"
    last_error = "not started"
    for _attempt in range(3):  # another process may grab the free port in between
        port, token = _free_port(), secrets.token_hex(24)
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                _server_command(port, token, root, workdir),
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        lab = JupyterLab(process=process, port=port, token=token, root=root, log_path=log_path)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                last_error = f"the server exited with code {process.returncode}"
                break
            try:
                lab.api("GET", "/api/status", timeout=2)
                return lab
            except (OSError, ValueError) as error:
                last_error = repr(error)
                time.sleep(0.25)
        else:
            _stop_server(lab)
            raise RuntimeError(
                f"JupyterLab did not answer /api/status within {SERVER_START_TIMEOUT:.0f} s "
                f"({last_error}). Log:\n{lab.log_tail()}"
            )
    raise RuntimeError(f"JupyterLab did not start ({last_error}). Log:\n{lab.log_tail()}")


def _stop_server(lab):
    """Shut the server and its kernels down: politely, then by signal, by process id."""
    process = lab.process
    started = _descendants(process.pid)  # the kernels (and their children)
    if process.poll() is None:
        try:
            lab.shutdown_kernels()
            lab.api("POST", "/api/shutdown", timeout=10)
        except (OSError, ValueError):
            pass
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    for pid in started:
        if _pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving copies of the course's notebooks."""
    workdir = tmp_path_factory.mktemp("jupyterlab")
    root = workdir / "root"
    root.mkdir()
    if NOTEBOOKS_DIR.is_dir():
        shutil.copytree(
            NOTEBOOKS_DIR, root / LAB_SUBDIR, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        )
    else:
        (root / LAB_SUBDIR).mkdir()
    _write_user_settings(workdir / "lab-settings")
    lab = _start_server(workdir, root, _server_env(workdir))
    try:
        yield lab
    finally:
        _stop_server(lab)


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (which cannot download its own here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch() gives the browser a fresh temporary profile, deleted when it closes.
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _host_of(url):
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome", "chrome-extension", "devtools"):
        return None  # not a network request
    return parts.hostname or ""


def _is_local(url):
    host = _host_of(url)
    return host is None or host in LOCAL_HOSTS or host.startswith("127.")


@dataclass
class WatchedPage:
    """A page plus everything the suite watches on it."""

    page: object
    console_errors: list  # console.error messages and uncaught exceptions
    external_requests: list  # requests to anything but localhost, all blocked
    console_messages: list  # every console message, for the report
    viewport: dict
    screenshots_dir: Path


@pytest.fixture
def lab_page(browser, jupyter_lab):
    """A fresh browser context and page that record console errors and block non-local requests."""
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    watched = WatchedPage(
        page=None,
        console_errors=[],
        external_requests=[],
        console_messages=[],
        viewport=dict(VIEWPORT),
        screenshots_dir=SCREENSHOTS_DIR,
    )

    def guard(route):
        url = route.request.url
        if _is_local(url):
            route.continue_()
        else:
            watched.external_requests.append(f"{route.request.method} {url}")
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(30_000)

    def on_console(message):
        location = message.location or {}
        where = f"{location.get('url', '')}:{location.get('lineNumber', '')}"
        watched.console_messages.append(f"[{message.type}] {message.text[:500]} ({where})")
        if message.type == "error":
            watched.console_errors.append(f"console.error: {message.text[:1000]} ({where})")

    def on_websocket(websocket):
        if not _is_local(websocket.url):
            watched.external_requests.append(f"WEBSOCKET {websocket.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.console_errors.append(f"uncaught exception: {error}"))
    page.on("websocket", on_websocket)
    watched.page = page
    try:
        yield watched
    finally:
        context.close()
        try:
            jupyter_lab.shutdown_kernels()
        except (OSError, ValueError):
            pass

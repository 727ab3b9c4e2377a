"""JupyterHub for a class taking "Attention, hands on" on one Linux server.

Tried on Debian 12 with JupyterHub 6.1.1 and configurable-http-proxy 5.3.0 (tools/try_hub.sh runs
that check again). Each learner is an account on the server (PAM: their Linux user name and
password) in the group `learners`; each gets their own copy of the notebooks on first start.

Set up once, as root (README, "Teaching with it"):

    git clone <the course> /opt/attention-hands-on && cd /opt/attention-hands-on
    python3.11 -m venv .venv   # a Python every learner can read: not one under /root (pyenv's)
    .venv/bin/python tools/install.py && .venv/bin/pip install jupyterhub==6.1.1 && .venv/bin/pip install --no-deps -e .
    npm install -g configurable-http-proxy@5.3.0
    groupadd learners && useradd -m -G learners alice && passwd alice   # one per learner
    .venv/bin/jupyterhub -f /opt/attention-hands-on/docs/jupyterhub_config.py

Start the hub from the course's environment: the learners' servers and kernels then run in it
too (sys.prefix below), so there is nothing else to install or register.
"""

import os
import pwd
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub defines get_config when it loads this file)

# The notebooks each learner gets: the teacher's edition (notebooks/) by default; for the student
# edition run `make student` and start the hub with COURSE_NOTEBOOKS=/opt/attention-hands-on/student.
COURSE_NOTEBOOKS = Path(os.environ.get("COURSE_NOTEBOOKS") or Path(__file__).resolve().parents[1] / "notebooks")
FOLDER = "attention-hands-on"  # the copy's name in each learner's home

# Localhost only: put a TLS reverse proxy (nginx, Caddy) in front, or serve TLS from the hub
# itself with c.JupyterHub.ssl_cert / ssl_key and bind_url = "https://:443".
c.JupyterHub.bind_url = "http://127.0.0.1:8000"

# Who may log in: members of the Linux group `learners` (PAM, the default authenticator).
c.LocalAuthenticator.allowed_groups = {"learners"}

# Each learner's JupyterLab, started as their own Linux user (LocalProcessSpawner, the default)
# from the hub's environment, opened on the first lesson.
c.Spawner.cmd = [str(Path(sys.prefix) / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = f"/lab/tree/{FOLDER}/00_start_here.ipynb"
# A learner's server takes 9-20 s to start on a busy 2-core machine (JupyterHub gives up after 30 s
# by default): leave room for a whole class logging in at the same moment.
c.Spawner.http_timeout = 180
c.Spawner.args = [
    # No calls out of the server: no news feed, no update check, no extension manager listing PyPI.
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",
    # A lesson's kernel holds 0.3-0.55 GB. Shut down kernels idle for an hour whose notebook is
    # closed (an open notebook's kernel stays, however long it idles).
    "--MappingKernelManager.cull_idle_timeout=3600",
    "--MappingKernelManager.cull_interval=300",
]


def copy_notebooks(spawner):
    """Give the learner their own copy of the notebooks, once; delete the folder to get a fresh one."""
    user = pwd.getpwnam(spawner.user.name)
    target = Path(user.pw_dir) / FOLDER
    if target.exists():
        return
    shutil.copytree(COURSE_NOTEBOOKS, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for path in [target, *target.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)


c.Spawner.pre_spawn_hook = copy_notebooks

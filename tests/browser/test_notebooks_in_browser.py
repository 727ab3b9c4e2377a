"""Each course notebook, run in a real JupyterLab in headless Chromium, as a learner would.

For every notebook: open it, run all cells, and check that no cell failed, that every
widget displayed, that every code cell ran, that the page logged no error and reached
nothing outside localhost. Then move every control (slider, dropdown, toggle buttons,
radio buttons, checkbox) and check that the figure of its widget redraws.

Screenshots: .browser-screenshots/<notebook stem>/ (git-ignored), with report.json.
Run: .venv/bin/python -m pytest tests/browser -q -x -p no:cacheprovider
"""

import contextlib
import json
import os
import re
import shutil
import time
import warnings

import pytest

try:
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # the conftest skips (or fails) the suite with an install hint
    PlaywrightError = Exception

RUN_ALL_TIMEOUT = float(os.environ.get("COURSE_RUN_ALL_TIMEOUT", "180"))  # a lesson may train a model
KERNEL_READY_TIMEOUT = 90.0
FIGURE_CHANGE_TIMEOUT = 6.0  # after moving a control, how long the figure may take to redraw
SETTLE_TIMEOUT = 15.0
KERNEL_FLUSH_TIMEOUT = 60.0  # formatting a traceback from a widget callback alone can take seconds
MAX_SCREENSHOT_HEIGHT = 15_000  # Chromium cannot capture much taller pages in one piece

# Console errors the suite tolerates: (compiled pattern, why it is harmless and unavoidable).
# Empty on purpose: with JupyterLab 4.6.6, ipywidgets 8.1.9 and ipympl 0.10.0 a clean run logs
# no console error at all (JupyterLab serves its own favicons, so there is no favicon 404).
# Add an entry only for an error verified to be harmless and impossible to avoid, and say why.
# Not errors, so not listed: ipympl logs "No handler for the 'capture_scroll' message type" at
# level "log", and JupyterLab logs its start-up at level "debug"; both are in report.json.
IGNORED_CONSOLE_ERRORS: list[tuple[re.Pattern, str]] = []

# Helpers installed in the page before JupyterLab loads. They use window.jupyterapp,
# exposed by --LabApp.expose_app_in_browser=True.
PAGE_HELPERS = r"""
(() => {
  if (window.__courseTest) return;
  const runs = {};

  function panel(path) {
    const app = window.jupyterapp;
    if (!app || !app.shell) return null;
    for (const widget of app.shell.widgets('main')) {
      if (widget && widget.context && widget.context.path === path && widget.content && widget.sessionContext) {
        return widget;
      }
    }
    return null;
  }

  function kernel(path) {
    const p = panel(path);
    const session = p && p.sessionContext.session;
    return session && session.kernel ? session.kernel : null;
  }

  function status(path) {
    const p = panel(path);
    const dialog = document.querySelector('.jp-Dialog');
    if (!p) return {panel: false, dialog: dialog ? dialog.innerText.slice(0, 500) : null};
    const k = kernel(path);
    return {
      panel: true,
      ready: !!(p.context.isReady && p.sessionContext.isReady),
      kernel: k ? k.status : null,
      dialog: dialog ? dialog.innerText.slice(0, 500) : null,
    };
  }

  // Errors and stderr the kernel sends outside of any cell's execution: an exception in a widget
  // callback (a comm message) reaches no cell, and a learner would only see nothing happen.
  const stray = [];

  function listen(p) {
    if (p.__courseListening) return;
    p.__courseListening = true;
    p.sessionContext.iopubMessage.connect((_, msg) => {
      const type = msg.header.msg_type;
      const parent = (msg.parent_header && msg.parent_header.msg_type) || null;
      if (parent === 'execute_request') return;  // a cell's output: in the notebook model
      if (type === 'error') {
        stray.push({type: type, parent: parent, text: `${msg.content.ename}: ${msg.content.evalue}`,
                    traceback: (msg.content.traceback || []).join('\n').replace(/\x1b\[[0-9;]*m/g, '').slice(-3000)});
      } else if (type === 'stream' && msg.content.name === 'stderr') {
        stray.push({type: 'stderr', parent: parent, text: String(msg.content.text).slice(0, 3000)});
      }
    });
  }

  async function flushKernel(path, timeoutMs) {
    // The kernel handles shell messages in order: once an empty, silent execute request is done,
    // every widget message sent before it has been handled and its output (errors too) published.
    const k = kernel(path);
    if (!k) return 'no kernel';
    const done = k.requestExecute({code: '', silent: true, store_history: false}).done.then(() => 'flushed');
    const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), timeoutMs));
    return Promise.race([done, timeout]);
  }

  function strayMessages() {
    return stray.slice();
  }

  function runAll(path) {
    const p = panel(path);
    const app = window.jupyterapp;
    listen(p);
    app.shell.activateById(p.id);
    const run = runs[path] = {done: false, result: null, error: null};
    app.commands.execute('notebook:run-all-cells').then(
      (result) => { run.done = true; run.result = result === undefined ? null : result; },
      (error) => { run.done = true; run.error = String((error && error.stack) || error); });
  }

  function cells(path) {
    const p = panel(path);
    return p.content.widgets.map((cell, index) => {
      const model = cell.model;
      const info = {index: index, type: model.type, count: null, state: null, outputs: []};
      if (model.type !== 'code') return info;
      info.count = model.executionCount;
      info.state = model.executionState || 'idle';
      for (let i = 0; i < model.outputs.length; i++) {
        const output = model.outputs.get(i);
        if (output.type === 'error' || output.type === 'stream') {
          const json = output.toJSON();
          info.outputs.push({
            type: output.type, name: json.name || null, text: json.text ? String(json.text).slice(0, 2000) : null,
            ename: json.ename || null, evalue: json.evalue ? String(json.evalue).slice(0, 2000) : null,
          });
        } else {
          info.outputs.push({type: output.type});
        }
      }
      return info;
    });
  }

  function runState(path) {
    const run = runs[path] || {done: false};
    const all = cells(path);
    const running = all.filter((c) => c.state === 'running').map((c) => c.index);
    // The prompts too: "[*]:" is what a learner sees while a cell runs or waits to run.
    const starred = Array.from(panel(path).content.node.querySelectorAll('.jp-InputPrompt'))
      .filter((prompt) => prompt.textContent.includes('[*]')).length;
    if (starred && !running.length) running.push('a cell showing [*]');
    const k = kernel(path);
    return {done: run.done, result: run.result, error: run.error, running: running, kernel: k ? k.status : null};
  }

  function hash(text) {  // FNV-1a, enough to tell two images apart
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0).toString(16) + ':' + text.length;
  }

  function figureCanvases(root) {
    // ipympl: .jupyter-matplotlib-canvas-div holds the figure canvas, then a rubber-band canvas.
    return Array.from(root.querySelectorAll('.jupyter-matplotlib-canvas-div'))
      .map((div) => div.querySelector('canvas')).filter(Boolean);
  }

  function figureSignature(root) {
    return figureCanvases(root).map((canvas) => {
      try { return canvas.width + 'x' + canvas.height + ':' + hash(canvas.toDataURL()); }
      catch (error) { return 'unreadable:' + error; }
    });
  }

  function groupSignature(groupId) {
    const group = document.querySelector(`[data-course-group="${groupId}"]`);
    return group ? figureSignature(group) : null;
  }

  function pageSignature(path) {
    const p = panel(path);
    const k = kernel(path);
    const node = p.content.node;
    return JSON.stringify({
      kernel: k ? k.status : null,
      running: cells(path).filter((c) => c.state === 'running').length,
      widgets: node.querySelectorAll('.jupyter-widgets').length,
      figures: figureSignature(node),
    });
  }

  function pageProblems(path) {
    const node = panel(path).content.node;
    const problems = [];
    node.querySelectorAll('[data-mime-type="application/vnd.jupyter.error"]').forEach((el) => {
      const cell = el.closest('.jp-Cell');
      problems.push({kind: 'error output', cell: cellIndex(path, cell), text: el.innerText.slice(0, 1500)});
    });
    node.querySelectorAll('.jupyter-widgets, .jupyter-widgets-error-widget').forEach((el) => {
      const text = el.textContent || '';
      if (el.classList.contains('jupyter-widgets-error-widget') || text.startsWith('Error displaying widget')) {
        const cell = el.closest('.jp-Cell');
        problems.push({kind: 'widget error', cell: cellIndex(path, cell), text: (el.innerText || text).slice(0, 500)});
      }
    });
    const text = node.innerText || '';
    if (text.includes('Error displaying widget') && !problems.some((p) => p.kind === 'widget error')) {
      problems.push({kind: 'widget error', cell: null, text: 'the notebook shows "Error displaying widget"'});
    }
    return problems;
  }

  function cellIndex(path, cellNode) {
    if (!cellNode) return null;
    const index = panel(path).content.widgets.findIndex((cell) => cell.node === cellNode);
    return index < 0 ? null : index;
  }

  function scrollExtra(path) {
    // How much taller the notebook's content is than its visible part.
    const p = panel(path);
    const candidates = [p.content.node, ...p.content.node.querySelectorAll('.jp-WindowedPanel-outer')];
    let extra = 0;
    for (const el of candidates) extra = Math.max(extra, el.scrollHeight - el.clientHeight);
    return extra;
  }

  const CONTROL_KINDS = [
    ['slider', '.widget-slider'],                        // Int/Float/FloatLog/Selection/Range sliders (noUiSlider)
    ['dropdown', '.widget-dropdown'],
    ['toggle-buttons', '.widget-toggle-buttons'],
    ['radio-buttons', '.widget-radio'],
    ['checkbox', '.widget-checkbox'],
    ['toggle-button', '.widget-toggle-button'],
  ];

  function groupOf(control) {
    // The smallest ancestor that holds an ipympl figure, without leaving the control's output
    // (for the course's widgets: the top-level VBox with the controls and the canvas).
    const stop = control.closest('.jp-OutputArea-output') || control.closest('.jp-Cell');
    for (let node = control.parentElement; node; node = node.parentElement) {
      if (figureCanvases(node).length) return node;
      if (node === stop) break;
    }
    return null;
  }

  function isDisabled(kind, el) {
    if (kind === 'slider') return !!el.querySelector('.noUi-target[disabled], [disabled]');
    if (kind === 'dropdown') return !!el.querySelector('select:disabled');
    if (kind === 'toggle-button') return el.disabled;
    if (kind === 'checkbox') return !!el.querySelector('input:disabled');
    return Array.from(el.querySelectorAll('button, input')).every((b) => b.disabled);
  }

  function labelOf(kind, el) {
    // The description; ipywidgets puts a zero-width space in empty labels.
    const texts = Array.from(el.querySelectorAll('.widget-label, .widget-label-basic')).map((l) => l.textContent);
    if (kind === 'toggle-button') texts.push(el.textContent);
    for (const text of texts) {
      const clean = (text || '').replace(/[\u200b\u00a0]/g, ' ').trim();
      if (clean) return clean;
    }
    return '';
  }

  function scrollToTop(path) {
    const p = panel(path);
    for (const el of [p.content.node, ...p.content.node.querySelectorAll('.jp-WindowedPanel-outer')]) el.scrollTop = 0;
  }

  function controls(path) {
    const node = panel(path).content.node;
    const found = [];
    let nextGroup = document.querySelectorAll('[data-course-group]').length;
    for (const [kind, selector] of CONTROL_KINDS) {
      for (const el of node.querySelectorAll(selector)) {
        if (kind === 'toggle-button' && el.closest('.widget-toggle-buttons')) continue;
        if (el.closest('.jupyter-matplotlib-toolbar')) continue;
        if (!el.dataset.courseControl) el.dataset.courseControl = String(found.length);
        const group = groupOf(el);
        if (group && !group.dataset.courseGroup) group.dataset.courseGroup = String(nextGroup++);
        found.push({
          id: el.dataset.courseControl, kind: kind, label: labelOf(kind, el),
          group: group ? group.dataset.courseGroup : null,
          figures: group ? figureCanvases(group).length : 0,
          cell: cellIndex(path, el.closest('.jp-Cell')),
          disabled: isDisabled(kind, el),
          top: Math.round(el.getBoundingClientRect().top),
          left: Math.round(el.getBoundingClientRect().left),
        });
      }
    }
    // In reading order: by cell, then row by row (controls of one row differ by a few pixels), left to right.
    const row = (c) => Math.round(c.top / 20);
    found.sort((a, b) => (a.cell - b.cell) || (row(a) - row(b)) || (a.left - b.left));
    return found;
  }

  function controlValue(id) {
    const el = document.querySelector(`[data-course-control="${id}"]`);
    if (!el) return null;
    const handle = el.querySelector('.noUi-handle');
    if (handle) {
      const readout = el.querySelector('.widget-readout');
      return {
        now: handle.getAttribute('aria-valuenow'), min: handle.getAttribute('aria-valuemin'),
        max: handle.getAttribute('aria-valuemax'), text: readout ? readout.textContent.trim() : null,
      };
    }
    const select = el.querySelector('select');
    if (select) return {index: select.selectedIndex, count: select.options.length,
                        text: select.selectedIndex >= 0 ? select.options[select.selectedIndex].text : null};
    if (el.classList.contains('widget-toggle-buttons')) {
      const buttons = Array.from(el.querySelectorAll('button'));
      const index = buttons.findIndex((b) => b.classList.contains('mod-active'));
      return {index: index, count: buttons.length, text: index >= 0 ? buttons[index].textContent.trim() : null};
    }
    if (el.classList.contains('widget-radio')) {
      const inputs = Array.from(el.querySelectorAll('input[type="radio"]'));
      const index = inputs.findIndex((i) => i.checked);
      const text = index >= 0 ? inputs[index].parentElement.textContent.trim() : null;
      return {index: index, count: inputs.length, text: text};
    }
    if (el.classList.contains('widget-checkbox')) {
      const input = el.querySelector('input');
      return {text: String(!!(input && input.checked))};
    }
    return {text: String(el.classList.contains('mod-active'))};
  }

  function groupMessages(groupId) {
    // Text the widget shows next to its figure (e.g. "Cannot show this: ..."), for failure reports.
    const group = document.querySelector(`[data-course-group="${groupId}"]`);
    if (!group) return '';
    return Array.from(group.querySelectorAll('.widget-html-content, .widget-htmlmath-content, .jp-OutputArea-output'))
      .map((el) => el.innerText.trim()).filter(Boolean).join(' | ').slice(0, 500);
  }

  window.__courseTest = {
    status, runAll, runState, cells, pageSignature, pageProblems, scrollExtra, scrollToTop, controls,
    controlValue, groupSignature, groupMessages, strayMessages, flushKernel,
  };
})();
"""


def _slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40] or "control"


class NotebookSession:
    """One notebook open in JupyterLab, with the checks of this suite."""

    def __init__(self, watched, lab, notebook_name):
        self.watched = watched
        self.page = watched.page
        self.lab = lab
        self.name = notebook_name
        self.path = lab.notebook_path(notebook_name)
        stem = notebook_name.rsplit(".", 1)[0]
        self.shots = watched.screenshots_dir / stem
        shutil.rmtree(self.shots, ignore_errors=True)
        self.shots.mkdir(parents=True, exist_ok=True)
        self.report = {"notebook": notebook_name, "stderr": [], "controls": [], "kernel_messages": [], "console": []}

    @contextlib.contextmanager
    def timed(self, phase):
        started = time.monotonic()
        try:
            yield
        finally:
            self.report.setdefault("seconds", {})[phase] = round(time.monotonic() - started, 2)

    def pause(self, seconds):
        # Not time.sleep: Playwright's sync API runs the route handler (which lets requests through)
        # and the console listeners only while Python waits inside a Playwright call.
        self.page.wait_for_timeout(seconds * 1000)

    def js(self, function, *args):
        return self.page.evaluate(f"(args) => window.__courseTest.{function}(...args)", list(args))

    def context_for_failure(self):
        lines = []
        if self.watched.console_errors:
            lines.append("Browser console errors:\n  " + "\n  ".join(self.watched.console_errors))
        if self.watched.external_requests:
            lines.append("Requests outside localhost (blocked):\n  " + "\n  ".join(self.watched.external_requests))
        lines.append(f"Screenshots: {self.shots}")
        return "\n".join(lines)

    def fail(self, message):
        self.screenshot("failure")
        self.save_report()
        pytest.fail(f"{self.name}: {message}\n{self.context_for_failure()}", pytrace=False)

    def screenshot(self, name, locator=None):
        path = self.shots / f"{name}.png"
        try:
            if locator is not None:
                locator.screenshot(path=str(path), timeout=10_000)
            else:
                self.page.screenshot(path=str(path), timeout=10_000)
        except Exception as error:  # a screenshot is a help, never the reason a test fails
            warnings.warn(f"{self.name}: screenshot {name} failed: {error}", stacklevel=2)
            return None
        return path

    def save_report(self):
        self.report["console"] = self.watched.console_messages
        self.shots.mkdir(parents=True, exist_ok=True)  # another run may have cleared it meanwhile
        (self.shots / "report.json").write_text(json.dumps(self.report, indent=2))

    # ------------------------------------------------------------------ open and run

    def open(self):
        self.page.add_init_script(PAGE_HELPERS)
        self.page.goto(self.lab.lab_url(self.name), wait_until="domcontentloaded")
        deadline = time.monotonic() + KERNEL_READY_TIMEOUT
        status = {}
        while time.monotonic() < deadline:
            status = self.js("status", self.path)
            if status.get("dialog"):
                # e.g. "Select Kernel" when a notebook names no kernel: take the default choice,
                # but say so, because a learner would see the same dialog.
                warnings.warn(f"{self.name}: JupyterLab showed a dialog: {status['dialog']!r}", stacklevel=2)
                self.page.locator(".jp-Dialog .jp-mod-accept").first.click()
            elif status.get("ready") and status.get("kernel") == "idle":
                return
            self.pause(0.2)
        self.fail(
            f"the notebook or its kernel was not ready within {KERNEL_READY_TIMEOUT:.0f} s (last status: "
            f"{status}). Server log:\n{self.lab.log_tail(2000)}"
        )

    def run_all(self):
        started = time.monotonic()
        self.js("runAll", self.path)
        state = {}
        while time.monotonic() - started < RUN_ALL_TIMEOUT:
            state = self.js("runState", self.path)
            if state["done"] and not state["running"] and state["kernel"] == "idle":
                break
            self.pause(0.25)
        else:
            self.fail(
                f"run-all did not finish within {RUN_ALL_TIMEOUT:.0f} s: cells still running "
                f"{state.get('running')}, kernel {state.get('kernel')}"
            )
        if state.get("error"):
            self.fail(f"notebook:run-all-cells raised: {state['error']}")
        self.report["run_all_seconds"] = round(time.monotonic() - started, 1)
        self.wait_settled()

    def wait_settled(self, quiet=0.75, timeout=SETTLE_TIMEOUT):
        """Wait until the kernel is idle and nothing on the page (widgets, figures) changes for `quiet` s."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            signature = self.js("pageSignature", self.path)
            now = time.monotonic()
            if signature != last:
                last, since = signature, now
            elif now - since >= quiet and json.loads(signature)["kernel"] == "idle":
                return
            self.pause(0.1)
        warnings.warn(f"{self.name}: the page kept changing for {timeout:.0f} s after running", stacklevel=2)

    def full_screenshot(self):
        """The whole notebook in one image: the notebook scrolls inside JupyterLab, so grow the viewport."""
        extra = int(self.js("scrollExtra", self.path))
        viewport = self.watched.viewport
        height = min(viewport["height"] + max(extra, 0), MAX_SCREENSHOT_HEIGHT)
        self.page.set_viewport_size({"width": viewport["width"], "height": height})
        try:
            self.page.wait_for_timeout(300)
            self.js("scrollToTop", self.path)  # run-all leaves the last cell in view
            self.page.wait_for_timeout(200)
            self.screenshot("00-after-run-all")
        finally:
            self.page.set_viewport_size(viewport)
            self.page.wait_for_timeout(200)

    # ------------------------------------------------------------------ step 3: the run's results

    def check_run(self):
        cells = self.js("cells", self.path)
        problems = []
        for cell in cells:
            if cell["type"] != "code":
                continue
            for output in cell["outputs"]:
                if output["type"] == "error":
                    problems.append(f"cell {cell['index']}: {output['ename']}: {output['evalue']}")
                elif output["type"] == "stream" and output["name"] == "stderr":
                    self.report["stderr"].append({"cell": cell["index"], "text": output["text"]})
        model_errors = bool(problems)
        for problem in self.js("pageProblems", self.path):
            # Error outputs are already reported from the notebook model; the page is a safety net.
            if problem["kind"] == "error output" and model_errors:
                continue
            text = " ".join(problem["text"].split())[:300]
            problems.append(f"cell {problem['cell']}: {problem['kind']}: {text}")
        not_run = [cell["index"] for cell in cells if cell["type"] == "code" and cell["count"] is None]
        if not_run:
            problems.append(f"code cells without an execution count (not run): {not_run}")
        self.report["cells"] = len(cells)
        self.report["code_cells"] = sum(cell["type"] == "code" for cell in cells)
        for entry in self.report["stderr"]:
            first = " ".join(entry["text"].split())[:200]
            warnings.warn(f"{self.name}: cell {entry['cell']} wrote to stderr: {first}", stacklevel=2)
        return problems

    # ------------------------------------------------------------------ step 4: the widgets

    def group_signature(self, group):
        return self.js("groupSignature", group)

    def wait_group_stable(self, group, quiet=0.4, timeout=10.0):
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            signature = self.group_signature(group)
            kernel = self.js("status", self.path).get("kernel")
            now = time.monotonic()
            if signature != last:
                last, since = signature, now
            elif now - since >= quiet and kernel == "idle":
                break
            self.pause(0.1)
        return last

    def wait_group_changed(self, group, before, timeout=FIGURE_CHANGE_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.group_signature(group) != before:
                return True
            self.pause(0.1)
        return False

    def control_locator(self, control):
        return self.page.locator(f'[data-course-control="{control["id"]}"]')

    def change(self, control, attempt, original):
        """Move a control as a learner would: attempt 0 a small step, attempt 1 a big one.

        Returns what was done, or None when there is nothing (more) to try.
        """
        root = self.control_locator(control)
        value = self.js("controlValue", control["id"])
        kind = control["kind"]
        if kind == "slider":
            handle = root.locator(".noUi-handle").first
            at_max = value["now"] is not None and value["now"] == value["max"]
            if attempt == 0:
                key = "ArrowLeft" if at_max else "ArrowRight"
                for _ in range(3):
                    handle.press(key)
                return f"pressed {key} x3"
            key = "Home" if at_max else "End"
            handle.press(key)
            return f"pressed {key}"
        if kind in ("dropdown", "toggle-buttons", "radio-buttons"):
            # Never go back to the original option: the figure would rightly look the same.
            choices = [i for i in range(value["count"]) if i not in (value["index"], original["index"])]
            if not choices:
                return None
            index = choices[0] if attempt == 0 else choices[-1]
            if kind == "dropdown":
                root.locator("select").select_option(index=index)
            elif kind == "toggle-buttons":
                root.locator("button").nth(index).click()
            else:
                root.locator('input[type="radio"]').nth(index).click()
            return f"chose option {index}"
        if attempt > 0:
            return None  # a second click on a checkbox or a toggle button only undoes the first
        if kind == "checkbox":
            root.locator("input").click()
            return "clicked the checkbox"
        root.click()
        return "clicked the toggle button"

    def exercise_controls(self):
        """Move every control; return one line per control whose figure did not change."""
        failures = []
        for number, control in enumerate(self.js("controls", self.path), start=1):
            name = f"{control['kind']} '{control['label'] or '(no description)'}' in cell {control['cell']}"
            result = {"control": name, "kind": control["kind"], "label": control["label"], "cell": control["cell"]}
            self.report["controls"].append(result)
            if control["disabled"]:
                result["outcome"] = "skipped: disabled"
            elif control["group"] is None:
                result["outcome"] = "skipped: no ipympl figure in its widget"
            else:
                try:
                    failure = self.exercise(number, control, result)
                except PlaywrightError as error:  # e.g. the control vanished or never became clickable
                    result["outcome"] = f"FAILED: {error}"
                    failure = f"could not operate it: {str(error).splitlines()[0]}"
                if failure:
                    failures.append(f"{name}: {failure}")
        return failures

    def exercise(self, number, control, result):
        """Move one control and watch its figure. Returns why it failed, or None."""
        group = self.page.locator(f'[data-course-group="{control["group"]}"]')
        self.control_locator(control).scroll_into_view_if_needed()
        before = self.wait_group_stable(control["group"], quiet=0.25)
        value_before = self.js("controlValue", control["id"])
        changed, actions = False, []
        for attempt in (0, 1):
            action = self.change(control, attempt, value_before)
            if action is None:
                break
            actions.append(action)
            if self.wait_group_changed(control["group"], before):
                changed = True
                break
        value_after = self.js("controlValue", control["id"]) or {}
        self.wait_group_stable(control["group"])
        shot = self.screenshot(f"{number:02d}-{control['kind']}-{_slug(control['label'])}", group)
        result.update(
            actions=actions,
            value_before=value_before,
            value_after=value_after,
            figure_changed=changed,
            screenshot=str(shot) if shot else None,
        )
        if changed:
            result["outcome"] = "figure changed"
            return None
        if not actions:
            result["outcome"] = "skipped: a single option, nothing to change"
            return None
        why = "the control did not move" if value_after == value_before else "the figure did not redraw"
        result["outcome"] = f"FAILED: {why}"
        messages = self.js("groupMessages", control["group"])
        return (
            f"{why} after {', '.join(actions)} (value {value_before.get('text')!r} -> {value_after.get('text')!r})"
            + (f"; the widget shows: {messages}" if messages else "")
        )

    def check_kernel_messages(self):
        """Errors the kernel raised outside any cell, e.g. in a widget callback."""
        flushed = self.js("flushKernel", self.path, KERNEL_FLUSH_TIMEOUT * 1000)
        problems = [] if flushed == "flushed" else [f"the kernel did not answer within {KERNEL_FLUSH_TIMEOUT:.0f} s"]
        errors = {}  # the same callback error, raised once per slider step, is reported once
        for message in self.js("strayMessages"):
            self.report["kernel_messages"].append(message)
            if message["type"] == "error":
                tail = "\n      ".join(message["traceback"].strip().splitlines()[-6:])
                key = (message["text"], message["parent"], tail)
                errors[key] = errors.get(key, 0) + 1
            else:
                first = " ".join(message["text"].split())[:200]
                warnings.warn(f"{self.name}: the kernel wrote to stderr outside a cell: {first}", stacklevel=2)
        for (text, parent, tail), count in errors.items():
            times = f" ({count} times)" if count > 1 else ""
            problems.append(
                f"the kernel raised {text}{times} while handling a {parent} (a widget callback?):\n      {tail}"
            )
        return problems

    def check_console(self):
        kept, ignored = [], []
        for error in self.watched.console_errors:
            reason = next((why for pattern, why in IGNORED_CONSOLE_ERRORS if pattern.search(error)), None)
            (ignored if reason else kept).append(error if not reason else f"{error}  [ignored: {reason}]")
        self.report["ignored_console_errors"] = ignored
        problems = [f"browser console: {error}" for error in kept]
        problems += [f"request outside localhost (blocked): {url}" for url in self.watched.external_requests]
        return problems


def test_notebook_runs_and_widgets_redraw(notebook_name, jupyter_lab, lab_page):
    session = NotebookSession(lab_page, jupyter_lab, notebook_name)
    with session.timed("open"):
        session.open()
    with session.timed("run_all"):
        session.run_all()
    with session.timed("screenshot"):
        session.full_screenshot()

    problems = session.check_run()
    if problems:
        session.fail("running all cells went wrong:\n  " + "\n  ".join(problems))

    with session.timed("controls"):
        failures = session.exercise_controls()
    problems = session.check_kernel_messages() + session.check_console()
    session.save_report()
    message = []
    if failures:
        message.append("controls whose figure did not change:\n  " + "\n  ".join(failures))
    if problems:
        message.append("problems in the browser or the kernel:\n  " + "\n  ".join(problems))
    if message:
        pytest.fail(
            f"{notebook_name}: " + "\n".join(message) + f"\nScreenshots and report.json: {session.shots}", pytrace=False
        )

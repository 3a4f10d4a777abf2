"""One home for what a verification said: its failures, its text, and the same report read back
in another process."""

from __future__ import annotations

from pathlib import Path

from mww_trainer.device.verify import VerifyReport


def _report() -> VerifyReport:
    report = VerifyReport(Path("/m/manifest.json"), Path("/m/w.tflite"), Path("/m/manifest.json"))
    report.add("Ops", True, "6 ops, all registered by ESPHome")
    report.add("Manifest", True, "version 2")
    return report


def test_failures_name_each_failed_check():
    report = _report()
    assert report.failures() == []
    report.add("Arena", False, "needs 40000 bytes, manifest says 20000")
    assert report.failures() == ["Arena: needs 40000 bytes, manifest says 20000"]
    assert "[FAIL] Arena: needs 40000" in report.format()
    assert report.format().endswith("ESPHome compatible: NO  (0.0 s)")


def test_a_check_that_could_not_run_is_said_in_the_answer():
    report = _report()
    report.add("ESPHome schema", True, "not checked: ESPHome is not installed", skipped=True)
    assert report.compatible
    assert "ESPHome compatible: YES, but not checked: ESPHome schema" in report.format()


def test_a_report_read_back_from_another_process_is_the_same():
    report = _report()
    report.add("Runtime", False, "not run", skipped=True)
    again = VerifyReport.from_dict(report.to_dict())
    assert again.to_dict() == report.to_dict()
    assert again.failures() == report.failures() == ["Runtime: not run"]

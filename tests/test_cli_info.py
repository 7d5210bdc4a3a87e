"""``diffmesh info``: versions, CPU capability, the acceleration plan, render backend, threads."""

from __future__ import annotations

import json

import pytest

from diffmesh.cli import main


def test_info_json_reports_the_plan_of_the_forced_capability(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIFFMESH_CPU_CAPABILITY", "AVX2")
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"diffmesh", "torch", "python"} <= set(info["versions"])
    assert info["cpu"]["torch_capability"] == "AVX2" and info["cpu"]["native_bf16"] is False
    assert info["acceleration"]["dtype"] == "float32" and info["acceleration"]["mode"] == "auto"
    assert info["render"]["backend"] in ("opengl", "torch")
    assert info["threads"]["pipeline_default"] >= 1 and info["threads"]["torch"] >= 1
    assert info["detector"]["default"] == "full" and info["detector"]["full"] == "in the mediapipe wheel"
    assert info["detector"]["lite"].startswith("shipped") and info["detector"]["heavy"].startswith("shipped")


def test_info_text_names_cpu_and_number_format(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIFFMESH_CPU_CAPABILITY", "AMX")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "native_bf16" in out and "bfloat16" in out and "model" in out and "pipeline_default" in out


def test_info_rejects_an_unknown_capability(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIFFMESH_CPU_CAPABILITY", "SSE9")
    assert main(["info"]) == 2
    assert "SSE9" in capsys.readouterr().err

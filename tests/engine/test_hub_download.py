"""Downloading a Hub model from a local imitation of the Hub, then loading it offline."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

from tests.engine.hub_server import HubServer

REPO_ID = "test-owner/tiny-gpt2"

LOAD_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from termchat.engine import ModelLoadError, ModelSpec, load_backend
    reports = []
    backend = load_backend(ModelSpec(model=sys.argv[1]), reports.append)
    result = {"reports": [[r.stage, r.completed, r.total] for r in reports], "model_id": backend.info.model_id}
    try:
        load_backend(ModelSpec(model="test-owner/missing-model"))
    except ModelLoadError as error:
        result["missing_error"] = str(error)
    print(json.dumps(result))
    """
)

MISSING_SCRIPT = textwrap.dedent(
    """
    import sys
    from termchat.engine import ModelLoadError, ModelSpec, load_backend
    try:
        load_backend(ModelSpec(model=sys.argv[1]))
    except ModelLoadError as error:
        print(error)
    """
)


def run_loader(hf_home, endpoint, offline):
    env = {
        **os.environ,
        "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "HF_HOME": str(hf_home),
        "HF_ENDPOINT": endpoint,
        "HF_HUB_OFFLINE": "1" if offline else "0",
        "TRANSFORMERS_OFFLINE": "1" if offline else "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, REPO_ID], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_hub_download_reports_bytes_then_loads_offline(tiny_gpt2_dir, tmp_path):
    hf_home = tmp_path / "hf_home"
    total_bytes = sum(path.stat().st_size for path in tiny_gpt2_dir.iterdir() if path.is_file())

    with HubServer(tiny_gpt2_dir, REPO_ID) as hub:
        online = run_loader(hf_home, hub.url, offline=False)
        online_requests = list(hub.requests)
        hub.requests.clear()
        offline = run_loader(hf_home, hub.url, offline=True)

    downloads = [report for report in online["reports"] if report[0] == "download"]
    loads = [report for report in online["reports"] if report[0] == "load"]
    assert downloads, "no download progress was reported"
    assert downloads[-1][1] == total_bytes
    assert downloads[-1][2] == total_bytes
    assert [report[1] for report in downloads] == sorted(report[1] for report in downloads)
    assert online["reports"].index(loads[0]) > online["reports"].index(downloads[-1])
    assert online["model_id"] == REPO_ID
    assert any(path.endswith("model.safetensors") for method, path in online_requests if method == "GET")
    assert "'test-owner/missing-model' not found" in online["missing_error"]

    assert offline["model_id"] == REPO_ID
    assert all(report[0] == "load" for report in offline["reports"])
    assert "not in the cache" in offline["missing_error"]
    assert "`unset HF_HUB_OFFLINE TRANSFORMERS_OFFLINE`" in offline["missing_error"]
    assert hub.requests == []


def test_unreachable_hub_says_connect(tmp_path):
    # A socket that is bound but not listening refuses connections, so the Hub cannot be reached.
    with socket.socket() as closed_port:
        closed_port.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed_port.getsockname()[1]}"
        env = {
            **os.environ,
            "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "HF_HOME": str(tmp_path / "hf_home"),
            "HF_ENDPOINT": endpoint,
            "HF_HUB_OFFLINE": "0",
            "TRANSFORMERS_OFFLINE": "0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
        }
        result = subprocess.run(
            [sys.executable, "-c", MISSING_SCRIPT, REPO_ID],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    assert result.returncode == 0, result.stderr
    message = result.stdout.strip()
    assert f"'{REPO_ID}' is not in the cache" in message
    assert "the Hub cannot be reached; connect to the network" in message
    assert "offline mode" not in message

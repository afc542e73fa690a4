"""Sweeps on Dask: grid files, identity with `computerace run`, worker counts, killed workers, resume,
atomic files, the CLI and the report. Clusters are small (1-2 single-threaded workers) and closed."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import computerace as cr
from computerace.errors import UserError
from computerace.sweep import load_grid, open_client, parse_grid, run_sweep
from computerace.sweep.cell import compute_cell, extract
from computerace.sweep.engine import cell_path, gather, read_cell, write_nc
from computerace.sweep.report import render_sweep_report

CR = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")
EXAMPLE = Path(__file__).parents[1] / "examples" / "smuggling_x_taiwan.yaml"

GRID = """
name: small
base: baseline
samples: 300
chunk: 100
axes:
  smuggling.enforcement: [0.0, 0.05]
  seed: [0, 1]
metrics: [china_share, stock_h100e/China, years_behind_stock, additions_h100e/China/smuggled,
          china_overtakes_us_stock_by]
years: [2025, 2030, 2040]
"""


@pytest.fixture(scope="module")
def client():
    with open_client(workers=2) as c:  # the LocalCluster `computerace sweep` starts
        yield c


@pytest.fixture(scope="module")
def reference(client):
    """The small grid on 2 workers, chunks of 100 samples."""
    return run_sweep(parse_grid(GRID), client=client)


# ----------------------------------------------------------------------------------- grid files
def test_local_cluster_listens_on_loopback_only(client):
    # the scheduler, every worker and Dask's own dashboard bind 127.0.0.1, not every interface
    from urllib.parse import urlsplit

    info = client.scheduler_info()
    addresses = [client.scheduler.address, *info["workers"]]
    assert all(urlsplit(a).hostname == "127.0.0.1" for a in addresses), addresses
    assert urlsplit(client.dashboard_link).hostname == "127.0.0.1", client.dashboard_link
    dash_port = info["services"].get("dashboard")
    import psutil

    listening = {(c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="inet") if c.status == "LISTEN"}
    assert dash_port and ("127.0.0.1", dash_port) in listening and ("0.0.0.0", dash_port) not in listening


def _listening(pid: int) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every listening TCP socket of a process and all its descendants."""
    import psutil  # a dependency of dask.distributed

    root = psutil.Process(pid)
    out = []
    for p in [root, *root.children(recursive=True)]:
        try:
            out += [(p.pid, c.laddr.ip, c.laddr.port) for c in p.net_connections(kind="tcp")
                    if c.status == psutil.CONN_LISTEN]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return out


def test_a_local_sweep_listens_on_loopback_only():
    # while `computerace sweep` runs on its own LocalCluster, nothing in this process tree listens beyond loopback
    import ipaddress

    seen: list[list[tuple[int, str, int]]] = []

    def progress(kind: str, n: int) -> None:
        if kind == "chunk" and not seen:
            seen.append(_listening(os.getpid()))

    grid = parse_grid("name: tiny\nbase: baseline\nsamples: 60\nchunk: 30\naxes:\n  seed: [0]\n"
                      "metrics: [china_share]\nyears: [2030]\n")
    run_sweep(grid, workers=2, progress=progress, report=False)
    assert seen, "the sweep reported no finished chunk"
    socks = seen[0]
    assert len({pid for pid, _, _ in socks}) >= 3, socks  # this process (scheduler, Dask's dashboard), 2 workers
    assert all(ipaddress.ip_address(ip).is_loopback for _, ip, _ in socks), socks


def test_grid_axes_ranges_and_cells():
    g = parse_grid("""
axes:
  smuggling.enforcement: {from: 0, to: 0.1, steps: 3}
  events.taiwan_hazard_per_year: {from: 0.01, to: 1, steps: 3, log: true}
  seed: [3, 4]
metrics: [china_share]
""")
    assert g.axes[0].values == (0.0, 0.05, 0.1)
    np.testing.assert_allclose(g.axes[1].values, [0.01, 0.1, 1.0])
    assert g.shape == (3, 3, 2) and g.n_cells == 18 and g.samples == 1000 and g.base == "baseline"
    assert parse_grid("axes: {smuggling.enforcement: {from: 0, to: 0.1, step: 0.025}}\nmetrics: [china_share]"
                      ).axes[0].values == (0.0, 0.025, 0.05, 0.075, 0.1)
    cells = g.cells()
    assert len(cells) == 18 and cells[-1].index == (2, 2, 1) and cells[-1].seed == 4
    assert cells[-1].scenario.parameters["smuggling.enforcement"].value.ppf(np.array([0.5]))[0] == 0.1
    assert len({c.key for c in cells}) == 18  # every cell its own file
    assert cells[0].key != cells[1].key and g.metrics[0].key == "China"


@pytest.mark.parametrize("text, needle", [
    ("axes: {smuggling.enforcement: [0.1]}\nmetrics: [china_shar]", "did you mean 'china_share'"),
    ("axis: {}\nmetrics: [china_share]", "did you mean 'axes'"),
    ("axes: {smuggling.enforcement: {from: 0, to: 1}}\nmetrics: [china_share]", "steps"),
    ("axes: {smuggling.enforcment: [0.1]}\nmetrics: [china_share]", "smuggling.enforcement"),
    ("axes: {smuggling.enforcement: [2.0]}\nmetrics: [china_share]", "smuggling.enforcement=2.0"),
    ("axes: {seed: [0, -1]}\nmetrics: [china_share]", "seeds must be integers"),
    ("metrics: [china_share]\nyears: [2050]", "2050"),
    ("metrics: []", "metrics"),
])
def test_grid_errors_say_what_and_how_to_fix(text, needle):
    with pytest.raises(UserError) as e:
        parse_grid(text, "g.yaml").cells()
    assert needle in str(e.value) and "g.yaml" in str(e.value)


def test_example_grid_is_valid():
    g = load_grid(EXAMPLE)
    assert g.n_cells == 30 and len(g.cells()) == 30 and g.report["metric"] == "china_share"


# ----------------------------------------------------------------------------------- identity
def test_a_cell_equals_computerace_run_for_any_chunk():
    g = parse_grid(GRID)
    g.cells()
    sc = cr.load_scenario("baseline", {"smuggling.enforcement": 0.05})
    expected = extract(cr.run(sc, samples=300, seed=1).summary(), g.metrics, g.years)
    assert np.isfinite(expected[:4]).all() and np.isfinite(expected[4, 1:, 3]).all()  # P(overtake): 2030, 2040
    for chunk in (37, 300, 1000):
        got = compute_cell(sc, 1, 300, g.metrics, g.years, chunk)["values"]
        np.testing.assert_array_equal(got, expected)


def test_sweep_cell_matches_computerace_run(reference):
    ds = reference.dataset
    sc = cr.load_scenario("baseline", {"smuggling.enforcement": 0.05})
    s = cr.run(sc, samples=300, seed=1).summary()
    cell = ds["value"].sel({"smuggling.enforcement": 0.05, "seed": 1})
    assert cell.sel(metric="china_share", year=2030, stat="p50").item() == s["metrics"]["china_share"]["China"][
        "2030-12"]["p50"]
    assert cell.sel(metric="stock_h100e/China", year=2040, stat="p95").item() == s["metrics"]["stock_h100e"][
        "China"]["2040-12"]["p95"]
    assert cell.sel(metric="additions_h100e/China/smuggled", year=2025, stat="mean").item() == s["metrics"][
        "additions_h100e"]["China/smuggled"]["2025"]["mean"]
    assert cell.sel(metric="china_overtakes_us_stock_by", year=2030, stat="mean").item() == s["probabilities"][
        "china_overtakes_us_stock_by"]["2030"]
    assert ds["scenario_hash"].sel({"smuggling.enforcement": 0.05, "seed": 1}).item() == sc.hash


def test_dataset_layout(reference):
    ds = reference.dataset
    assert ds["value"].dims == ("smuggling.enforcement", "seed", "metric", "year", "stat")
    assert ds["value"].shape == (2, 2, 5, 3, 4) and list(ds["stat"].values) == ["p5", "p50", "p95", "mean"]
    assert list(ds["unit"].values[:2]) == ["fraction", "H100e"] and "axes:" in ds.attrs["grid"]
    v = ds["value"].sel(metric="stock_h100e/China").values
    assert (v[..., 0] <= v[..., 1]).all() and (v[..., 1] <= v[..., 2]).all()
    # enforcement against smuggling lowers China's stock; different seeds give different samples
    at = {"metric": "stock_h100e/China", "year": 2030, "stat": "p50"}
    assert (ds["value"].sel({"smuggling.enforcement": 0.05, **at})
            < ds["value"].sel({"smuggling.enforcement": 0.0, **at})).all()
    assert not np.array_equal(v[:, 0], v[:, 1])
    assert reference.computed == 4 and reference.reused == 0


def test_one_and_two_workers_give_identical_datasets(reference):
    one = run_sweep(parse_grid(GRID), workers=1, chunk=300)  # its own LocalCluster, one chunk per cell
    xr.testing.assert_identical(one.dataset, reference.dataset)


def test_scheduler_address_gives_identical_dataset(client, reference):
    addr = client.scheduler.address
    res = run_sweep(parse_grid(GRID), scheduler=addr, workers=2, chunk=150)
    xr.testing.assert_identical(res.dataset, reference.dataset)


def test_scenario_axis_with_the_same_scenario_twice(client, tmp_path):
    from computerace.scenario.loader import preset_dir

    path = str(preset_dir() / "baseline.yaml")
    g = parse_grid(f"samples: 200\nchunk: 100\naxes: {{scenario: [baseline, '{path}']}}\nmetrics: [china_share]")
    res = run_sweep(g, tmp_path / "o", client=client, report=False)
    v = res.dataset["value"]
    assert v.dims[0] == "scenario" and list(v["scenario"].values) == ["baseline", path]
    assert res.computed == 2 and np.isfinite(v.values).all()
    np.testing.assert_array_equal(v.isel(scenario=0).values, v.isel(scenario=1).values)
    assert len(list((tmp_path / "o" / "cells").glob("*.nc"))) == 1  # same inputs, same file


# ----------------------------------------------------------------------------------- faults
def test_killed_worker_is_retried_and_results_are_identical(reference):
    killed: list[str] = []
    with open_client(workers=2) as c:

        def kill_a_busy_worker(kind: str, n: int) -> None:
            if kind != "chunk" or killed:
                return
            busy = [w for w, keys in c.processing().items() if keys]
            if not busy:
                return
            try:
                c.run(os._exit, 1, workers=[busy[0]])
            except Exception:  # the connection closes with the process
                pass
            killed.append(busy[0])

        res = run_sweep(parse_grid(GRID), client=c, progress=kill_a_busy_worker, chunk=50)
        assert killed, "no worker was busy when the first chunk finished"
        assert killed[0] not in c.scheduler_info(n_workers=-1)["workers"]  # the process really died
    assert res.computed == 4
    xr.testing.assert_identical(res.dataset, reference.dataset)


def test_interrupted_sweep_resumes_to_the_same_dataset(client, reference, tmp_path):
    out = tmp_path / "sw"
    done = []

    def interrupt_after_two_cells(kind: str, n: int) -> None:
        if kind == "cell":
            done.append(n)
            if len(done) == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(parse_grid(GRID), out, client=client, progress=interrupt_after_two_cells)
    files = sorted((out / "cells").iterdir())
    assert len(files) == 2 and all(f.suffix == ".nc" and not f.name.startswith(".") for f in files)
    assert not (out / "sweep.nc").exists()
    res = run_sweep(parse_grid(GRID), out, client=client, resume=True, chunk=75)
    assert (res.computed, res.reused) == (2, 2)
    xr.testing.assert_identical(res.dataset, reference.dataset)
    xr.testing.assert_identical(xr.load_dataset(out / "sweep.nc"), reference.dataset)
    assert sorted(p.name for p in out.iterdir()) == ["cells", "grid.yaml", "report.html", "sweep.nc"]
    assert len(list((out / "cells").iterdir())) == 4
    again = run_sweep(parse_grid(GRID), out, client=client, resume=True, report=False)
    assert (again.computed, again.reused) == (0, 4)


def test_damaged_cell_file_and_stale_temporaries_are_not_trusted(client, reference, tmp_path):
    out = tmp_path / "sw"
    run_sweep(parse_grid(GRID), out, client=client, report=False)
    g = parse_grid(GRID)
    cells = g.cells()
    cell_path(out, cells[1]).write_bytes(b"not a netcdf file")
    stale = out / "cells" / f".{cells[2].key}.nc.x1y2.tmp"
    stale.write_bytes(b"half a file")
    assert read_cell(out, g, cells[1]) is None and read_cell(out, g, cells[0]) is not None
    res = run_sweep(g, out, client=client, resume=True, report=False)
    assert (res.computed, res.reused) == (1, 3) and not stale.exists()
    xr.testing.assert_identical(res.dataset, reference.dataset)


def test_interrupted_write_leaves_no_partial_file(reference, tmp_path, monkeypatch):
    target = tmp_path / "cells" / "x.nc"

    def half_then_fail(self, path, **kw):
        Path(path).write_bytes(b"CDF\x01 partial")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", half_then_fail)
    with pytest.raises(OSError):
        write_nc(reference.dataset, target)
    assert list((tmp_path / "cells").iterdir()) == []


# ----------------------------------------------------------------------------------- report
def _fake(grid_text: str) -> tuple[xr.Dataset, object]:
    g = parse_grid(grid_text)
    cells = g.cells()
    rng = np.random.default_rng(0)
    results = {}
    for c in cells:
        v = np.sort(rng.random((len(g.metrics), len(g.years or []), 3)), axis=2)
        results[c.index] = {"values": np.concatenate([v, v[..., 1:2]], axis=2), "truncated": {}}
    return gather(g, cells, results), g


def test_report_heatmap_for_two_axes_lines_for_one():
    two, g2 = _fake("axes: {smuggling.enforcement: [0, 0.1], events.taiwan_hazard_per_year: [0, 0.05, 0.1]}\n"
                    "metrics: [china_share]\nyears: [2030]")
    page = render_sweep_report(two, g2)
    assert 'id="heatmap-0"' in page and 'id="lines"' in page and "events.taiwan_hazard_per_year" in page
    assert "smuggling.enforcement: [0, 0.1]" in page  # the grid file itself
    assert 'src="http' not in page and "<script src" not in page  # offline: plotly.js embedded
    one, g1 = _fake("axes: {smuggling.enforcement: [0, 0.05, 0.1]}\nmetrics: [china_share]\n"
                    "years: [2030, 2040]")
    page1 = render_sweep_report(one, g1)
    assert 'id="heatmap-0"' not in page1 and 'id="lines"' in page1 and '"fill":"toself"' in page1
    assert "conditional" in page1 and page1.count('"name":"2030"') == 1  # one line per year


# ----------------------------------------------------------------------------------- CLI
def _cli(*args: str, cwd: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([CR, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def test_unreachable_scheduler_exits_2_with_a_clear_message(tmp_path):
    (tmp_path / "g.yaml").write_text(GRID)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = time.monotonic()
    p = _cli("sweep", str(tmp_path / "g.yaml"), "--scheduler", f"tcp://127.0.0.1:{port}", "--connect-timeout", "1",
             "--out", str(tmp_path / "o"))
    assert p.returncode == 2, p.stderr
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in p.stderr
    assert "fix:" in p.stderr and "Traceback" not in p.stderr + p.stdout
    assert time.monotonic() - t < 120


def test_cli_sweep_writes_files_and_resume_reuses_them(client, tmp_path):
    (tmp_path / "g.yaml").write_text(GRID.replace("seed: [0, 1]", "seed: [0]"))
    p = _cli("sweep", "g.yaml", "--scheduler", client.scheduler.address, "--out", "o", "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert (info["cells"], info["computed"], info["reused"]) == (2, 2, 0)
    for name in ("sweep.nc", "report.html", "grid.yaml"):
        assert (tmp_path / "o" / name).stat().st_size > 0
    assert len(list((tmp_path / "o" / "cells").glob("*.nc"))) == 2
    assert (tmp_path / "o" / "grid.yaml").read_text() == (tmp_path / "g.yaml").read_text()
    p2 = _cli("sweep", "g.yaml", "--out", "o", "--resume", "--json", cwd=tmp_path)
    assert p2.returncode == 0, p2.stderr
    assert (json.loads(p2.stdout)["computed"], json.loads(p2.stdout)["reused"]) == (0, 2)
    p3 = _cli("sweep", "missing.yaml", cwd=tmp_path)
    assert p3.returncode == 2 and "grid file not found" in p3.stderr and "Traceback" not in p3.stderr

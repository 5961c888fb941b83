"""Faults around a run, through the real CLI: what --out may be, write errors (a full disk on a
tmpfs, a read-only folder, a full stdout), a failed run that leaves earlier results alone,
SIGTERM and SIGHUP like Ctrl-C, workers that do not outlive their parent, user text with rich
markup, streams that cannot encode Unicode, scheduler addresses, memory estimated up front,
and results files identical byte for byte whatever the workers and blocks.

The disk tests need a private mount namespace (root and util-linux ``unshare``): a tmpfs or a
read-only bind mount there fails for root too, where file permissions would not."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from siege.results.parquet import read_results

from conftest import run_cli, run_cli_subprocess, scenario_data, to_toml

SIEGE = f"{shlex.quote(sys.executable)} -m siege"


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(to_toml(scenario_data()))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def litter(folder: Path) -> list[str]:
    """Temporary files left in a folder."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".inprogress")))


# ------------------------------------------------------------------------------------------
# what --out may be


def test_out_naming_the_scenario_is_refused_and_the_scenario_kept(small: Path) -> None:
    before = small.read_bytes()
    proc = run_cli("simulate", str(small), "-n", "256", "--out", str(small))
    assert proc.returncode == 2
    assert "is an input of this command; refusing to overwrite it" in proc.stderr
    assert small.read_bytes() == before
    link = small.with_name("link.parquet")  # through a link, too
    link.symlink_to(small)
    assert run_cli("simulate", str(small), "-n", "256", "--out", str(link)).returncode == 2
    assert small.read_bytes() == before


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_out_that_is_not_a_regular_file_is_refused_before_the_run(
    small: Path, tmp_path: Path, kind: str
) -> None:
    out = tmp_path / "r.parquet"
    if kind == "fifo":
        os.mkfifo(out)
    elif kind == "folder":
        out.mkdir()
    else:
        out = Path("/dev/null")
    proc = run_cli("simulate", str(small), "-n", "256", "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert ("is a folder" if kind == "folder" else "is not a regular file") in proc.stderr
    if kind == "fifo":
        assert out.is_fifo()  # not replaced by a regular file
    assert litter(tmp_path) == []
    bands = tmp_path / "b.bands.parquet"  # the bands file beside --out is checked too
    os.mkfifo(bands)
    proc = run_cli("simulate", str(small), "-n", "256", "--out", str(tmp_path / "b.parquet"))
    assert proc.returncode == 2 and "b.bands.parquet: is not a regular file" in proc.stderr
    assert not (tmp_path / "b.parquet").exists()


def test_out_that_is_not_parquet_is_not_replaced(small: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.parquet"
    notes.write_text("my notes\n")
    proc = run_cli("simulate", str(small), "-n", "256", "--out", str(notes))
    assert proc.returncode == 2 and "exists and is not a Parquet file" in proc.stderr
    assert notes.read_text() == "my notes\n"


def test_failed_run_leaves_earlier_results_as_they_were(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    assert run_cli("simulate", str(small), "-n", "256", "--out", str(out)).returncode == 0
    before = {p.name: sha(p) for p in tmp_path.glob("r*.parquet")}
    proc = run_cli("simulate", str(small), "-n", "256", "--out", str(out),
                   "--set", "attacker.replacement_rate=1e308")  # fails in its first block
    assert proc.returncode == 2
    assert "failed: ModelError" in proc.stderr
    assert "no block had finished: " in proc.stderr and "is left as it was" in proc.stderr
    assert {p.name: sha(p) for p in tmp_path.glob("r*.parquet")} == before
    assert litter(tmp_path) == []


def test_file_name_too_long_is_one_message(small: Path, tmp_path: Path) -> None:
    out = tmp_path / ("x" * 300 + ".parquet")
    proc = run_cli("simulate", str(small), "-n", "256", "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: cannot write ") and "File name too long" in proc.stderr


def test_outputs_of_compare_report_sensitivity_are_checked_before_the_work(
    small: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.parquet"
    assert run_cli("simulate", str(small), "-n", "256", "--out", str(out)).returncode == 0
    before = sha(out)
    for args in (["compare", str(out), "-o", str(out)],
                 ["report", str(out), "-o", "/dev/full"],
                 ["compare", str(out), "-o", "/dev/full"],
                 ["sensitivity", str(tmp_path), "-o", "/dev/full"],
                 ["plot", str(out), "-o", "/dev/full"]):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.count("error:") == 1 and "Traceback" not in proc.stderr
    assert sha(out) == before
    proc = run_cli("sensitivity", str(tmp_path), "-o", str(tmp_path / "s.csv"))
    assert proc.returncode == 2 and "ending in .parquet or .json" in proc.stderr


# ------------------------------------------------------------------------------------------
# write errors on real file systems (a private mount namespace)


def in_private_mounts(script: str) -> subprocess.CompletedProcess[str]:
    """Run a shell script in a private mount namespace (its mounts vanish with it)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs or a read-only bind mount needs root")
    if shutil.which("unshare") is None:
        pytest.skip("util-linux unshare is not installed")
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot create a mount namespace here (unshare -m fails: a container "
                    "without CAP_SYS_ADMIN?)")
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_full_disk_is_one_message_and_keeps_the_earlier_results(
    small: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    d, sc = shlex.quote(str(disk)), shlex.quote(str(small))
    proc = in_private_mounts(f"""
        mount -t tmpfs -o size=4m tmpfs {d} || exit 99
        {SIEGE} simulate {sc} -n 256 -o {d}/r.parquet > /dev/null || exit 98
        sha256sum {d}/r.parquet {d}/r.bands.parquet > {d}/../before.txt
        dd if=/dev/zero of={d}/filler bs=64k 2> /dev/null  # fill the disk
        {SIEGE} simulate {sc} -n 20000 -o {d}/r.parquet; echo "simulate=$?"
        {SIEGE} compare {d}/r.parquet -o {d}/c.json > /dev/null; echo "compare=$?"
        {SIEGE} report {d}/r.parquet -o {d}/report.html; echo "report=$?"
        sha256sum -c --quiet {d}/../before.txt && echo "kept"
        ls -A {d}
    """)
    assert "simulate=2" in proc.stdout, proc.stderr
    assert "compare=2" in proc.stdout and "report=2" in proc.stdout
    assert "kept" in proc.stdout  # the earlier results, byte for byte
    assert proc.stdout.split("kept")[1].split() == ["filler", "r.bands.parquet", "r.parquet"]
    errors = proc.stderr.splitlines()
    assert errors[0] == f"error: cannot write {disk}/r.parquet: No space left on device"
    assert errors[1] == f"error: cannot write {disk}/c.json: No space left on device"
    assert errors[2] == f"error: cannot write {disk}/report.html: No space left on device"
    assert "Traceback" not in proc.stderr


def test_read_only_folder_is_refused_before_the_run(small: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    sweep = tmp_path / "s.toml"
    sweep.write_text(f'scenario = "{small}"\n[design]\nmethod = "grid"\n'
                     '[[parameter]]\npath = "defender.strength"\nvalues = [4000, 5000]\n')
    f, sc = shlex.quote(str(folder)), shlex.quote(str(small))
    proc = in_private_mounts(f"""
        mount --bind {f} {f} && mount -o remount,bind,ro {f} || exit 99
        {SIEGE} simulate {sc} -n 1000000 -o {f}/r.parquet; echo "simulate=$?"
        {SIEGE} sweep {shlex.quote(str(sweep))} -o {f}/store; echo "sweep=$?"
    """)
    assert "simulate=2" in proc.stdout and "sweep=2" in proc.stdout, proc.stderr
    assert proc.stderr.splitlines() == [
        f"error: cannot write {folder}/r.parquet: Read-only file system",
        f"error: cannot write {folder}/store: Read-only file system",
    ]


@pytest.mark.parametrize("command", ["simulate", "compare"])
def test_full_stdout_for_json_is_one_message(small: Path, tmp_path: Path, command: str) -> None:
    out = tmp_path / "r.parquet"
    assert run_cli("simulate", str(small), "-n", "256", "--out", str(out)).returncode == 0
    args = [str(small), "-n", "256", "-o", str(out)] if command == "simulate" else [str(out)]
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "siege", command, *args, "--json"],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == "error: cannot write to standard output: No space left on device\n"


# ------------------------------------------------------------------------------------------
# signals and orphans


def start(*args: str) -> subprocess.Popen[str]:
    """``siege ARGS`` in its own process group, as a batch scheduler starts a job."""
    return subprocess.Popen([sys.executable, "-m", "siege", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def workers_of(pid: int) -> list[int]:
    """The worker processes (multiprocessing spawn) of a process."""
    out = []
    for kid in children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{kid}/cmdline").read_bytes():
                out.append(kid)
        except OSError:
            continue
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def stop_group(proc: subprocess.Popen[str], ready, signum: int) -> str:  # type: ignore[no-untyped-def]
    """Once ``ready()``, send ``signum`` to the whole process group of ``proc`` (as Slurm or
    systemd do) and wait for it to end; its stderr."""
    try:
        wait_for(ready)
        os.killpg(proc.pid, signum)
        return proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_keep_the_finished_blocks_like_ctrl_c(
    tmp_path: Path, signum: signal.Signals
) -> None:
    out = tmp_path / "r.parquet"
    proc = start("simulate", str(Path(__file__).parents[1] / "scenarios" / "bakhmut.toml"),
                 "-n", "400000", "-w", "2", "--block-size", "4096", "--out", str(out))
    tmp = tmp_path / ".r.parquet.tmp"
    workers: list[int] = []

    def ready() -> bool:  # a row group written, the workers known
        workers[:] = workers_of(proc.pid)
        return tmp.is_file() and tmp.stat().st_size > 100_000

    stderr = stop_group(proc, ready, signum)
    assert proc.returncode == 128 + signum, stderr
    assert stderr == f"stopped by {signum.name}\n"  # quiet workers: no BrokenPipe tracebacks
    result = read_results(out)
    assert result.partial and 0 < result.outcomes.num_rows < 400000
    assert litter(tmp_path) == []
    wait_for(lambda: not any(alive(w) for w in workers), timeout=10)


@pytest.mark.slow
def test_a_run_stopped_before_any_block_finished_leaves_out_as_it_was(
    small: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.parquet"
    assert run_cli("simulate", str(small), "-n", "256", "--out", str(out)).returncode == 0
    before = {p.name: sha(p) for p in tmp_path.glob("r*.parquet")}
    proc = start("simulate", str(Path(__file__).parents[1] / "scenarios" / "bakhmut.toml"),
                 "-n", "400000", "-w", "2", "--out", str(out))
    # the target checked and its temporary file opened: the run has started
    stderr = stop_group(proc, (tmp_path / ".r.parquet.tmp").is_file, signal.SIGTERM)
    assert proc.returncode == 143 and stderr == "stopped by SIGTERM\n", stderr
    assert {p.name: sha(p) for p in tmp_path.glob("r*.parquet")} == before
    assert litter(tmp_path) == []


@pytest.mark.slow
def test_sigterm_to_a_sweep_leaves_a_store_that_resume_finishes(tmp_path: Path) -> None:
    from conftest import files_of

    scenario = tmp_path / "base.toml"
    scenario.write_text(to_toml(scenario_data(simulation={"horizon_days": 200.0})))
    sweep = tmp_path / "s.toml"
    sweep.write_text(f'scenario = "{scenario}"\nreplications = 8192\nblock_size = 4096\n'
                     '[design]\nmethod = "grid"\n[[parameter]]\npath = "defender.strength"\n'
                     "values = [3000, 4000, 5000, 6000, 7000, 8000]\n")
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    assert run_cli("sweep", str(sweep), "--out", str(whole), "-w", "1").returncode == 0
    proc = start("sweep", str(sweep), "--out", str(stopped), "-w", "2")
    stderr = stop_group(proc, lambda: any(stopped.glob("ledger/point=*.json")), signal.SIGTERM)
    assert proc.returncode == 143 and stderr == "stopped by SIGTERM\n", stderr
    assert len(list(stopped.glob("bands/*/bands.parquet"))) < 6
    resumed = run_cli("sweep", str(sweep), "--out", str(stopped), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert files_of(stopped) == files_of(whole)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["simulate", "sweep"])
def test_workers_exit_when_their_parent_is_killed(tmp_path: Path, command: str) -> None:
    bakhmut = Path(__file__).parents[1] / "scenarios" / "bakhmut.toml"
    if command == "simulate":
        args = ["simulate", str(bakhmut), "-n", "2000000", "-w", "2", "-o",
                str(tmp_path / "r.parquet")]
    else:
        sweep = tmp_path / "s.toml"
        sweep.write_text(f'scenario = "{bakhmut}"\nreplications = 1000000\n[design]\n'
                         'method = "grid"\n[[parameter]]\npath = "defender.strength"\n'
                         "values = [10000, 20000]\n")
        args = ["sweep", str(sweep), "-o", str(tmp_path / "store"), "-w", "2"]
    proc = start(*args)
    try:
        wait_for(lambda: len(workers_of(proc.pid)) == 2)
        workers = workers_of(proc.pid)
        time.sleep(1.0)  # the workers are running their first blocks
        proc.kill()  # SIGKILL: no handler, no cleanup in the parent
        proc.wait(timeout=10)
        wait_for(lambda: not any(alive(w) for w in workers), timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()


# ------------------------------------------------------------------------------------------
# display: user text, encodings, addresses


def test_user_text_with_rich_markup_is_printed_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "odd[bold]["
    folder.mkdir()
    path = folder / "]x.toml"  # the path contains "[/]"
    path.write_text(to_toml(scenario_data(name="siege [/] of [red]town")))
    out = folder / "r[i].parquet"
    proc = run_cli("simulate", str(path), "-n", "256", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "siege [/] of [red]town: end of siege" in proc.stdout
    assert str(out) in proc.stdout
    proc = run_cli("validate", str(path))
    assert proc.returncode == 0 and f"{path}: valid" in proc.stderr
    proc = run_cli("compare", str(out), str(out), "-l", "[/]", "-l", "[bold]b")
    assert proc.returncode == 0, proc.stderr
    assert "reference [/]" in proc.stdout and "variant [bold]b" in proc.stdout


@pytest.mark.slow
def test_a_stream_that_cannot_encode_unicode_gets_ascii(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "LC_ALL": "C"}
    for args in (["simulate", str(small), "-n", "256", "-o", str(out)],
                 ["compare", str(out), str(out)], ["validate", str(small)]):
        proc = subprocess.run([sys.executable, "-m", "siege", *args], capture_output=True,
                              text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stdout.isascii() and proc.stderr.isascii()
        if args[0] == "simulate":  # intervals "0.100 – 0.200" with an ASCII dash
            assert " - " in proc.stdout


def test_scheduler_that_is_not_an_address_is_refused_at_once(small: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    proc = run_cli("simulate", str(small), "-n", "256", "--scheduler", "not a url",
                   "-o", str(tmp_path / "r.parquet"))
    assert proc.returncode == 2
    assert "--scheduler 'not a url': not a scheduler address; give tcp://HOST:PORT" in proc.stderr
    assert time.monotonic() - started < 5
    assert list(tmp_path.iterdir()) == [small]  # nothing written


def test_unreachable_scheduler_names_the_address_and_the_timeout(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setenv("SIEGE_SCHEDULER_TIMEOUT", "1")
    started = time.monotonic()
    proc = run_cli("simulate", str(small), "-n", "256", "--scheduler", "tcp://127.0.0.1:9",
                   "-o", str(tmp_path / "r.parquet"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: cannot reach the Dask scheduler at "
                                  "tcp://127.0.0.1:9 within 1 s")
    assert "SIEGE_SCHEDULER_TIMEOUT=SECONDS" in proc.stderr
    assert time.monotonic() - started < 10
    assert list(tmp_path.iterdir()) == [small]
    monkeypatch.setenv("SIEGE_SCHEDULER_TIMEOUT", "soon")
    proc = run_cli("simulate", str(small), "--scheduler", "tcp://127.0.0.1:9")
    assert proc.returncode == 2 and "SIEGE_SCHEDULER_TIMEOUT='soon'" in proc.stderr


# ------------------------------------------------------------------------------------------
# memory, determinism, small things


def test_run_that_cannot_fit_in_memory_is_refused_up_front(small: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    proc = run_cli("simulate", str(small), "-n", "1000000000", "-o", str(tmp_path / "r.parquet"))
    assert proc.returncode == 2
    assert "this run would need about " in proc.stderr and "outcome table 2" in proc.stderr
    assert "nothing was run" in proc.stderr
    assert time.monotonic() - started < 10
    assert list(tmp_path.iterdir()) == [small]


def test_memory_estimate_counts_outcomes_blocks_and_bands() -> None:
    from siege.errors import RunError
    from siege.run.budget import check_memory, estimate_memory
    from siege.scenario import scenario_from_dict

    scenario = scenario_from_dict(scenario_data())
    estimate = estimate_memory(scenario, block_size=4096, local_blocks=2)
    one = estimate_memory(scenario, block_size=4096, local_blocks=1)
    assert estimate.total > one.total > 0
    assert estimate_memory(scenario, block_size=4096, local_blocks=0,
                           outcome_table=False).total < one.total
    check_memory(estimate, available=estimate.total)
    with pytest.raises(RunError, match="would need about"):
        check_memory(estimate, available=estimate.total / 2)


@pytest.mark.slow
def test_results_files_identical_byte_for_byte_across_workers_and_block_sizes(
    tmp_path: Path,
) -> None:
    """More than one row group (65,536 replications each), sample trajectories spread over
    several blocks, blocks finishing in any order."""
    scenario = tmp_path / "s.toml"
    scenario.write_text(to_toml(scenario_data(
        simulation={"horizon_days": 20.0, "sample_trajectories": 4500})))
    runs = {"w1": ["-w", "1"], "w2": ["-w", "2", "--block-size", "4096"],
            "w2big": ["-w", "2", "--block-size", "40000"], "w1small": ["-w", "1",
                                                                   "--block-size", "8192"]}
    files = {}
    for name, options in runs.items():
        out = tmp_path / f"{name}.parquet"
        proc = run_cli("simulate", str(scenario), "-n", "70000", "-o", str(out), *options)
        assert proc.returncode == 0, proc.stderr
        files[name] = (out.read_bytes(), (tmp_path / f"{name}.bands.parquet").read_bytes())
    assert len(set(files.values())) == 1
    meta = pq.read_metadata(tmp_path / "w1.parquet")
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [65536, 4464]
    provenance = read_results(tmp_path / "w1.parquet").metadata
    assert set(provenance) == {
        "siege.kind", "siege.scenario", "siege.scenario_name", "siege.scenario_sha256",
        "siege.seed", "siege.engine", "siege.version", "siege.replications",
        "siege.completed", "siege.partial", "siege.percentiles"}  # nothing that varies


@pytest.mark.slow
def test_numeric_warnings_do_not_reach_the_terminal(small: Path, tmp_path: Path) -> None:
    proc = run_cli_subprocess("simulate", str(small), "-n", "256", "-o",
                              str(tmp_path / "r.parquet"), "--set",
                              "attacker.replacement_rate=1e308")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: replications 0..255 failed: ModelError")
    assert "Warning" not in proc.stderr and ".py:" not in proc.stderr


def test_a_file_compared_with_itself_is_not_narrower(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    assert run_cli("simulate", str(small), "-n", "256", "--out", str(out)).returncode == 0
    proc = run_cli("compare", str(out), str(out))
    assert proc.returncode == 0 and "narrower than unpaired" not in proc.stdout
    assert "100 %" not in proc.stdout
    data = json.loads(run_cli("compare", str(out), str(out), "--json").stdout)
    assert data["median_narrowing"] is None or data["median_narrowing"] != 1.0

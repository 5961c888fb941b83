"""The README as executable documentation.

Its console blocks that start with ``$ siege`` are run in order, through the real ``siege``
command in a subprocess, in a temporary folder holding a copy of ``scenarios/``: each command
must exit as the block shows (0, or 2 where the block shows an ``error:``), print what the
block shows, and make the claims of its comment true (files it names exist, the comparison is
paired, the report opens with the findings the README quotes). The generated blocks
(``docs/scripts/readme_numbers.py``) must equal what the script prints now.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SCRIPTS = ROOT / "docs" / "scripts"
OUTPUT_NAME = re.compile(r"[\w.-]+\.(?:parquet|html|store)\b")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Command:
    """One ``$`` line of a console block: the command, its comment and the output shown."""

    line: str
    comment: str
    shown: tuple[str, ...]


def console_blocks(text: str) -> list[list[Command]]:
    """The README's ``console`` blocks whose first line is ``$ siege``, as commands."""
    blocks = []
    for body in re.findall(r"```console\n(.*?)```", text, re.S):
        if not body.startswith("$ siege"):
            continue
        commands: list[Command] = []
        for raw in body.splitlines():
            if raw.startswith("$ "):
                line, _, comment = raw[2:].partition("  #")
                commands.append(Command(line.strip(), comment.strip(), ()))
            elif commands:
                last = commands[-1]
                commands[-1] = Command(last.line, last.comment, (*last.shown, raw))
        blocks.append(commands)
    return blocks


def quoted_findings(text: str) -> str:
    """The report sentence the README quotes (its generated ``findings`` block)."""
    m = re.search(r"readme_numbers.py findings -->\n\"(.*)\"\n<!-- end generated -->", text)
    assert m, "README.md: no generated findings block"
    return m.group(1)


def check_claims(cmd: Command, stdout: str, folder: Path, text: str) -> None:
    """What the comment beside a command (and the command itself) says, checked."""
    for name in OUTPUT_NAME.findall(cmd.comment):
        assert (folder / name).exists(), f"{cmd.line}: {name} named in the comment is missing"
    if "--json" in cmd.line:
        summary = json.loads(stdout)
        assert summary["replications"] == 20000 and summary["seed"] == 3, summary
    if cmd.line.startswith("siege compare"):
        assert "analysis: PAIRED" in stdout, stdout[:500]
        assert "variant bakhmut_hold" in stdout and "reference bakhmut:" in stdout
    if cmd.line.startswith("siege report"):
        page = html.unescape((folder / "report.html").read_text(encoding="utf-8"))
        assert quoted_findings(text) in page, "the report does not open with the quoted findings"
    if cmd.line.startswith("siege sweep"):
        assert (folder / "lhs.store" / "summary.parquet").exists()
        assert (folder / "lhs.store" / "sensitivity.parquet").exists()
    if cmd.line.startswith("siege validate"):  # resolved: base keys and defaults filled
        assert 'kind = "hold"' in stdout and "time_step_days" in stdout, stdout[:500]
    if cmd.line.startswith("siege schema"):
        assert "horizon_days" in stdout


def test_console_blocks_run_as_shown(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    blocks = console_blocks(text)
    assert blocks, "README.md has no console block starting with '$ siege'"
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    bindir = Path(sys.executable).parent
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "COLUMNS": "200", "HOME": str(tmp_path)}
    for block in blocks:
        for cmd in block:
            done = subprocess.run(["bash", "-c", cmd.line], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=600)
            expected = 2 if cmd.shown and cmd.shown[0].startswith("error:") else 0
            assert done.returncode == expected, (
                f"{cmd.line}: exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
            printed = done.stdout + done.stderr
            for line in cmd.shown:
                assert line in printed, f"{cmd.line}: README shows {line!r}; printed {printed!r}"
            check_claims(cmd, done.stdout, tmp_path, text)


def test_generated_blocks_are_current() -> None:
    done = subprocess.run([sys.executable, str(SCRIPTS / "readme_numbers.py"), "--check"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr

"""The README as a newcomer follows it: its run command works twice in a fresh folder, its test command's
install step works in a fresh venv, its command list is the one `mssante-hub --help` gives."""

from __future__ import annotations

import concurrent.futures
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

from tests.support.served import LISTENING, hub_command

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SERVE_TIMEOUT_S = 900  # the first run creates a venv and installs the package


def readme_block(after: str, language: str = "sh") -> str:
    """The first fenced block after the paragraph that starts with `after`."""
    text = README.read_text(encoding="utf-8")
    start = text.index(after)
    found = re.compile(rf"```{re.escape(language)}\n(.*?)```", re.S).search(text, start)
    assert found, f"no ```{language} block after {after!r}"
    return found.group(1).strip()


def fresh_clone(into: Path) -> Path:
    """The project's files as a clone has them (tracked and new files, nothing ignored, no venv, no data)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def can_isolate() -> bool:
    if not (sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip")):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


def isolated(command: str, wheels: Path | None) -> tuple[list[str], dict]:
    """The command, in a network namespace of its own when we may make one: the README's fixed ports (8080,
    2525, 1430, ...) then never meet another hub's, nor the baseline Postfix's 2525, on this machine. There,
    pip has no network: it installs from a wheelhouse made beforehand (same command, pip told where to look)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if wheels is None:
        return ["bash", "-c", command], env
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels))
    return ["unshare", "-n", "bash", "-c", f"ip link set lo up && {command}"], env


def wheelhouse(clone: Path, into: Path) -> Path | None:
    """The project's wheel, its dependencies, its test extras' and its build requirements, fetched with the
    network: what both the README's run command and the test command's install step take offline."""
    if not can_isolate():
        return None
    for args in (["wheel", "-q", "-w", str(into), f"{clone}[test]"], ["download", "-q", "-d", str(into),
                                                                     "setuptools>=68", "wheel"]):
        subprocess.run([sys.executable, "-m", "pip", *args], check=True, timeout=SERVE_TIMEOUT_S, capture_output=True)
    return into


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path | None:
    """One wheelhouse for the module's tests (making it is the slow part), built from a clone of its own."""
    base = tmp_path_factory.mktemp("wheelhouse")
    return wheelhouse(fresh_clone(base / "mssante-hub"), base / "wheels")


def run_until_listening(command: str, cwd: Path, wheels: Path | None) -> tuple[list[str], str]:
    argv, env = isolated(command, wheels)
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, env=env)
    names: list[str] = []
    lines: list[str] = []
    deadline = time.monotonic() + SERVE_TIMEOUT_S
    try:
        while len(names) < 5 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = LISTENING.match(line.strip())
            if found:
                names.append(found[1])
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # serve is the shell's last child: the signal reaches it
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            _, err = process.communicate()
    assert sorted(names) == ["imap", "imaps", "mx", "submission", "web"], "".join(lines) + err
    assert process.returncode == 0, err
    return lines, err


@pytest.mark.slow
def test_the_readme_run_command_serves_twice_in_a_fresh_folder(tmp_path, wheels):
    command = readme_block("**Run the hub**")
    assert "\n" not in command and "serve" in command
    clone = fresh_clone(tmp_path / "mssante-hub")
    first, _ = run_until_listening(command, clone, wheels)
    assert any(line.startswith("demo patient:") for line in first)
    second, err = run_until_listening(command, clone, wheels)  # the second time serves the same hub
    assert "already holds a hub" in "".join(second)
    assert not any("password:" in line for line in second)  # nothing made, nothing printed again


def install_step(script: Path) -> str:
    """The one pip line of the test command's script (the script itself then runs the whole suite)."""
    lines = [line.strip() for line in script.read_text(encoding="utf-8").splitlines()
             if re.match(r"\s*python3 -m pip install ", line)]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.slow
def test_the_readme_test_command_installs_in_a_fresh_venv(tmp_path, wheels):
    command = readme_block("**Run the whole test suite**")
    found = re.fullmatch(r"bash (\S+\.sh)", command)
    assert found, command
    step = install_step(REPO / found[1])
    assert "-e '.[test]'" in step
    clone = fresh_clone(tmp_path / "mssante-hub")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    # The script's `python3` is the venv's, and it runs from the clone's root (run.sh does `cd` there).
    argv, env = isolated(f"cd {shlex.quote(str(clone))} && {step}", wheels)
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}"
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=SERVE_TIMEOUT_S)
    assert done.returncode == 0, done.stdout + done.stderr

    python = str(env_dir / "bin" / "python")
    checked = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    version = subprocess.run([python, "-m", "pytest", "--version"], cwd=tmp_path, env=checked,
                             capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and "pytest" in version.stdout + version.stderr, version.stderr
    imported = subprocess.run([python, "-c", "import mssante_hub, aiosmtpd, trustme; print(mssante_hub.__file__)"],
                              cwd=tmp_path, env=checked, capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip().startswith(str(clone)), imported.stdout  # editable: the clone's own code


def help_commands() -> dict[str, set[str]]:
    """Each command of `mssante-hub --help`, with the actions of those that have some."""
    def choices(*args: str) -> list[str]:
        text = subprocess.run(hub_command(*args, "--help"), capture_output=True, text=True, check=True).stdout
        found = re.search(r"\{([\w,-]+)\}\s+\.\.\.", text)  # the sub-command choice of the usage line
        return found[1].split(",") if found else []

    names = choices()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return dict(zip(names, (set(c) for c in pool.map(choices, names))))


def readme_commands() -> dict[str, set[str]]:
    listed: dict[str, set[str]] = {}
    for line in readme_block("## The operator's commands", language="").splitlines():
        words = line.split()
        if len(words) < 2 or words[0] != "mssante-hub":
            continue
        actions = listed.setdefault(words[1], set())
        if len(words) > 2 and not words[2].startswith(("-", ">")):
            actions.update(words[2].split("|"))
    return listed


def test_the_readme_lists_every_command_and_action_of_the_help():
    commands, listed = help_commands(), readme_commands()
    assert set(listed) == set(commands)
    for name, actions in commands.items():
        if actions:  # a command with actions: each one is in the list
            assert listed[name] == actions, name


def test_what_is_where_names_every_doc():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## What is where"):text.index("## The operator's commands")]
    assert [d.name for d in sorted((REPO / "docs").glob("*.md")) if f"docs/{d.name}" not in section] == []

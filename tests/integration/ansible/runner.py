"""Running ``ansible-playbook`` from the project's ``.venv-ansible`` against a served engine, and reading its answer.

The playbook runs as a child process with the ``ansible.posix.json`` stdout
callback, so each task's result (``changed``, ``failed``, ``msg`` and what it
registered) is read from one JSON document instead of scraped from text.
Everything ansible writes (its home, local and "remote" temp dirs) stays under
the test's directory. Variables go in through a vars file (``-e @file``),
never on the command line: they carry the admin password, the agent's token
and CHAP passwords.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
VENV = REPO / ".venv-ansible"
PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
TIMEOUT = 240.0  # one run; the modules' own waits are set to far less in the playbooks


def venv_problem() -> str | None:
    """None when ``.venv-ansible`` is (or can be made) ready, else why not: the tests skip with it."""
    script = REPO / "scripts" / "ansible-venv"
    try:
        # Idempotent and cheap when the venv is there (a stamp file); builds it from nothing otherwise.
        done = subprocess.run([str(script), str(VENV)], capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"scripts/ansible-venv could not run: {error}"
    if done.returncode != 0:
        return f"scripts/ansible-venv failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-600:]}"
    if not (VENV / "bin" / "ansible-playbook").exists():
        return f"{VENV}/bin/ansible-playbook is missing after scripts/ansible-venv"
    return None


@dataclass(frozen=True, slots=True)
class Task:
    name: str
    result: dict[str, Any] = field(repr=False)

    @property
    def changed(self) -> bool:
        return bool(self.result.get("changed"))

    @property
    def failed(self) -> bool:
        return bool(self.result.get("failed"))

    @property
    def skipped(self) -> bool:
        return bool(self.result.get("skipped"))

    @property
    def msg(self) -> str:
        return str(self.result.get("msg", ""))


@dataclass(frozen=True, slots=True)
class Run:
    playbook: str
    returncode: int
    tasks: list[Task] = field(repr=False)
    output: str = field(repr=False)

    def task(self, name: str) -> Task:
        found = [t for t in self.tasks if t.name == name]
        assert found, f"{self.playbook}: no task {name!r} ran; tasks: {[t.name for t in self.tasks]}\n{self.summary()}"
        return found[-1]

    def changed(self) -> list[str]:
        return [t.name for t in self.tasks if t.changed]

    def failed(self) -> list[Task]:
        """Failed tasks (a task expected to fail says ``failed_when: false`` and is checked by its ``msg``)."""
        return [t for t in self.tasks if t.failed]

    def leaks(self, secrets: list[str]) -> list[str]:
        """Tasks whose result (what the engine answered, not the task's own arguments) shows a secret."""
        leaked = []
        for t in self.tasks:
            shown = json.dumps({k: v for k, v in t.result.items() if k != "invocation"})
            leaked += [t.name for secret in secrets if secret and secret in shown]
        return leaked

    def summary(self) -> str:
        lines = [f"ansible-playbook {self.playbook}: exit {self.returncode}"]
        for t in self.tasks:
            state = "FAILED" if t.failed else "changed" if t.changed else "skipped" if t.skipped else "ok"
            lines.append(f"  {state:8} {t.name}" + (f": {t.msg[:1500]}" if t.failed else ""))
        if not self.tasks:
            lines.append(self.output[-3000:])
        return "\n".join(lines)


class Ansible:
    """``ansible-playbook`` against localhost only (connection local, the venv's own Python for modules)."""

    def __init__(self, workdir: Path, common: dict[str, Any]) -> None:
        self.workdir = workdir
        self.common = common
        self.count = 0
        for sub in ("home", "local-tmp", "remote-tmp"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)

    def secrets(self, **extra: Any) -> list[str]:
        """The values of the variables named like passwords: no task result may show them."""
        return [str(v) for k, v in {**self.common, **extra}.items() if "password" in k and v]

    def run(self, playbook: str, **extra: Any) -> Run:
        self.count += 1
        python = VENV / "bin" / "python"
        variables = {**self.common, **extra, "ansible_python_interpreter": str(python)}
        vars_file = self.workdir / f"vars-{self.count}.json"
        vars_file.touch(mode=0o600)
        vars_file.write_text(json.dumps(variables))
        env = {
            "PATH": f"{VENV / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.workdir / "home"),
            "LANG": "C.UTF-8",
            "ANSIBLE_HOME": str(self.workdir / "home"),
            "ANSIBLE_LOCAL_TEMP": str(self.workdir / "local-tmp"),
            "ANSIBLE_REMOTE_TEMP": str(self.workdir / "remote-tmp"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_GATHERING": "explicit",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_PYTHON_INTERPRETER": str(python),
            "ANSIBLE_PIPELINING": "1",  # modules through stdin: no temp files per task (faster)
        }
        argv = [str(VENV / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                "-e", f"@{vars_file}", str(PLAYBOOKS / playbook)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, env=env,
                                  cwd=self.workdir, check=False)
        finally:
            vars_file.unlink(missing_ok=True)
        return Run(playbook, done.returncode, _tasks(done.stdout), done.stdout + done.stderr)


def _tasks(stdout: str) -> list[Task]:
    """The json callback's document: plays → tasks → hosts → localhost's result."""
    start = stdout.find("{")
    if start < 0:
        return []
    try:
        document = json.loads(stdout[start:])
    except json.JSONDecodeError:
        return []
    tasks = []
    for play in document.get("plays", []):
        for task in play.get("tasks", []):
            result = task.get("hosts", {}).get("localhost", {})
            tasks.append(Task(task["task"]["name"], result))
    return tasks

"""A real one-node Slurm cluster for the launch tests: munged, slurmctld and slurmd as background daemons.

Nothing is mocked: the tests submit real job arrays with the real `sbatch`, and Slurm runs them, enforces
their time limits and cancels them. The cluster is Debian's `slurm-wlm` and `munge` (`apt-get install
slurm-wlm munge`; `.ci/run` installs them), configured from scratch in a temporary folder: its own
munge key and socket, its own ports, no accounting, no cgroups (proctrack/linuxproc, task/none), one
node with this machine's CPUs and memory in one partition. It runs beside whatever else the machine
has (a system munged, another test run's cluster) without touching it. `slurmd` launches jobs as
their user, so it needs root, as CI runs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import free_port, log_tail, service_env

DAEMONS = ("munged", "slurmctld", "slurmd")
START_S = 60.0  # slurmd registers within seconds; a busy 2-core machine may need more
PARTITION = "harness"
KILL_WAIT_S = 30  # SIGTERM to SIGKILL at a time limit or scancel: Slurm's default; a loaded CI machine needs it


@dataclass(frozen=True)
class SlurmCluster:
    folder: Path
    conf: Path
    node: str
    cpus: int
    partition: str = PARTITION

    def env(self) -> dict[str, str]:
        """The environment of a command that talks to this cluster (sbatch, scontrol, gan-ablate launch)."""
        return {**service_env(), "SLURM_CONF": str(self.conf)}


def slurm_skip_reason() -> str | None:
    """Why a real Slurm cluster cannot be started here (None when it can)."""
    missing = [name for name in (*DAEMONS, "sbatch", "scontrol", "scancel") if sbin(name) is None]
    if missing:
        return (f"NO SLURM: {', '.join(missing)} not installed: the tests that submit real job arrays are "
                "SKIPPED; apt-get install slurm-wlm munge (as .ci/run does) to run them")
    if os.geteuid() != 0:
        return "NOT ROOT: slurmd launches jobs as their user and must run as root; the Slurm tests are SKIPPED"
    return None


def sbin(name: str) -> str | None:
    """Slurm's and munge's daemons live in /usr/sbin, which a non-login PATH may lack."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


def node_facts() -> tuple[str, int, int]:
    """This machine as slurmd sees it: its short host name, CPUs and memory in MiB (`slurmd -C`)."""
    out = subprocess.run([sbin("slurmd"), "-C"], capture_output=True, text=True, check=True, timeout=30).stdout
    facts = dict(item.split("=", 1) for item in out.split() if "=" in item)
    return facts["NodeName"], int(facts["CPUs"]), int(facts["RealMemory"])


def slurm_conf(folder: Path, node: str, cpus: int, memory_mib: int) -> str:
    ports = free_port(), free_port()
    return "\n".join([
        "ClusterName=harness-test", f"SlurmctldHost={node}(127.0.0.1)",
        f"SlurmctldPort={ports[0]}", f"SlurmdPort={ports[1]}",
        "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={folder / 'munge.socket'}",
        f"StateSaveLocation={folder / 'state'}", f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}", f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}", f"SlurmdLogFile={folder / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU",  # memory is no consumable: 2 tasks fit
        "SchedulerType=sched/backfill", "MpiDefault=none", "ReturnToService=2",
        "AccountingStorageType=accounting_storage/none", "JobAcctGatherType=jobacct_gather/none",
        "JobCompType=jobcomp/none",
        f"KillWait={KILL_WAIT_S}", "MinJobAge=600", "InactiveLimit=0", "SlurmdTimeout=300",
        f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mib} State=UNKNOWN",
        f"PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP", ""])


def start(command: list[str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def start_munged(folder: Path) -> subprocess.Popen:
    key = folder / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o600)
    return start([sbin("munged"), "--foreground", "--force", f"--socket={folder / 'munge.socket'}",
                  f"--key-file={key}", f"--pid-file={folder / 'munged.pid'}", f"--log-file={folder / 'munged.log'}",
                  f"--seed-file={folder / 'munged.seed'}"], folder / "munged.out")


def wait_for(what: str, ready, processes: dict[str, subprocess.Popen], folder: Path) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} while waiting for {what}:\n"
                                   f"{log_tail(folder / f'{name}.log')}\n{log_tail(folder / f'{name}.out')}")
        if ready():
            return
        time.sleep(0.5)
    raise RuntimeError(f"no {what} after {START_S:.0f}s:\n{log_tail(folder / 'slurmctld.log')}\n"
                       f"{log_tail(folder / 'slurmd.log')}")


def node_state(cluster: SlurmCluster) -> str:
    out = subprocess.run(["scontrol", "show", "node", "-o", cluster.node], env=cluster.env(),
                         capture_output=True, text=True, timeout=30)
    fields = dict(item.split("=", 1) for item in out.stdout.split() if "=" in item)
    return fields.get("State", "")


def stop(process: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """SIGTERM one daemon we started (by its own pid), SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cancel_everything(cluster: SlurmCluster, timeout_s: float = 30.0) -> None:
    """scancel every job of this cluster (only its own: SLURM_CONF names it) and wait for the queue to empty,
    so that no job's processes outlive the daemons."""
    subprocess.run(["scancel", "--user", "root"], env=cluster.env(), capture_output=True, timeout=30)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = subprocess.run(["squeue", "--noheader", "-o", "%i"], env=cluster.env(), capture_output=True,
                             text=True, timeout=30)
        if out.returncode != 0 or not out.stdout.strip():
            return
        time.sleep(1)


@contextmanager
def slurm_cluster(folder: Path) -> Iterator[SlurmCluster]:
    """munged, slurmctld and slurmd on this machine, configured in `folder`; stopped at the end."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # munged refuses a key or socket folder that others may write
    for sub in ("state", "spool"):
        (folder / sub).mkdir(exist_ok=True)
    node, cpus, memory = node_facts()
    conf = folder / "slurm.conf"
    conf.write_text(slurm_conf(folder, node, cpus, memory))
    cluster = SlurmCluster(folder, conf, node, cpus)
    processes: dict[str, subprocess.Popen] = {}
    try:
        processes["munged"] = start_munged(folder)
        wait_for("munge socket", (folder / "munge.socket").exists, processes, folder)
        # -D: in the foreground, so that each is our child and is stopped by its pid; -c: no saved state
        processes["slurmctld"] = start([sbin("slurmctld"), "-D", "-c", "-f", str(conf)], folder / "slurmctld.out")
        processes["slurmd"] = start([sbin("slurmd"), "-D", "-N", node, "-f", str(conf)], folder / "slurmd.out")
        wait_for(f"idle node {node}", lambda: node_state(cluster).startswith("IDLE"), processes, folder)
        yield cluster
    finally:
        if "slurmd" in processes:
            cancel_everything(cluster)
        for name in reversed(list(processes)):
            stop(processes[name])


@pytest.fixture(scope="session")
def slurm() -> Iterator[SlurmCluster]:
    """A running one-node Slurm cluster for the whole session, or a loud skip saying what is missing."""
    reason = slurm_skip_reason()
    if reason:
        pytest.skip(reason)
    # Not pytest's deep tmp path: munged's socket path must stay under the 108 bytes of a Unix socket.
    folder = Path(f"/tmp/harness-slurm-{socket.gethostname()}-{os.getpid()}")
    shutil.rmtree(folder, ignore_errors=True)
    with slurm_cluster(folder) as cluster:
        yield cluster
    shutil.rmtree(folder, ignore_errors=True)

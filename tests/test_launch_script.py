"""`gan-ablate launch slurm` without a cluster: the sbatch script it writes, its checks of flags and stores,
and how --wait turns the tasks' ends into one exit code (harness/launch/)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main as cli_main
from harness.core.errors import UserError
from harness.launch import script, shared, wait
from harness.launch.__main__ import main
from tests.sweep_support import REPO, write_config

PG = "postgresql+psycopg2://harness@db-host:5432/optuna"
SERVER = "http://db-host:5000"
SHARED = ["--storage", PG, "--tracking-uri", SERVER]


def launch(capfd: pytest.CaptureFixture, *argv: str, entry=main) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(entry(list(argv)))
    out, err = capfd.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


# --- the script ---------------------------------------------------------------------------------

def test_the_script_asks_for_the_array_and_warns_the_sweep_before_the_time_limit(
        capfd: pytest.CaptureFixture, folder: Path) -> None:
    config = write_config(folder)
    code, out, err = launch(capfd, "slurm", str(config), "--workers", "3", *SHARED, "--partition", "gpu",
                            "--time", "4:00:00", "--gpus-per-worker", "a100:1", "--cpus-per-worker", "4", "--mem",
                            "16G", "--requeue", "--sbatch-arg=--qos=high", "--print-script", "train.steps=7")
    assert code == 0 and err == ""
    sbatch = [line.removeprefix("#SBATCH ") for line in out.splitlines() if line.startswith("#SBATCH ")]
    assert sbatch == ["--job-name=gan-ablate-e2e", "--array=0-2", f"--output={folder}/runs/slurm/e2e/%A_%a.log",
                      "--open-mode=append", f"--chdir={folder}", "--partition=gpu", "--time=4:00:00",
                      "--gres=gpu:a100:1", "--cpus-per-task=4", "--mem=16G", "--signal=B:TERM@120", "--requeue",
                      "--qos=high"]
    assert "\nexec " in out and 'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"' in out
    assert sorted(p.name for p in folder.iterdir()) == ["sweep.yaml"]  # --print-script writes nothing
    assert subprocess.run(["bash", "-n"], input=out, text=True).returncode == 0


def test_the_tasks_get_the_same_cells_as_the_launch(capfd: pytest.CaptureFixture, folder: Path) -> None:
    """`--only` narrows the launch's plan and every task's sweep alike (and the header says it was given)."""
    config = write_config(folder)
    code, out, err = launch(capfd, "slurm", str(config), "--workers", "2", *SHARED, "--print-script",
                            "--only", "variant=wgan_gp")
    assert code == 0 and err == ""
    command = next(line for line in out.splitlines() if line.startswith("exec ") or " -m harness.sweep " in line)
    body = out[out.index(command):]
    assert "--only variant=wgan_gp" in body and "--only=variant=wgan_gp" in out


def test_a_cpu_config_asks_for_no_gpu_and_a_gpu_one_for_one(capfd: pytest.CaptureFixture, folder: Path) -> None:
    cpu = write_config(folder)  # train.device: cpu
    _, out, _ = launch(capfd, "slurm", str(cpu), "--workers", "2", *SHARED, "--print-script")
    assert "--gres" not in out
    _, out, _ = launch(capfd, "slurm", str(cpu), "--workers", "2", *SHARED, "--print-script", "train.device=auto")
    assert "#SBATCH --gres=gpu:1\n" in out


def test_the_task_runs_exactly_the_sweep_command_whatever_the_quoting(folder: Path) -> None:
    """The script's exec line, run by bash, hands the interpreter the very argv launch meant: overrides with
    quotes, spaces and `$(...)` arrive as text, never as shell code."""
    echo = folder / "echo_argv.py"
    echo.write_text("import json, sys; print(json.dumps(sys.argv[1:]))")
    tricky = ["name=it's $(touch pwned) a `test`", 'variants=["wgan_gp"]']
    command = [sys.executable, str(echo), "-m", "harness.sweep", "/a b/sweep.yaml", "--storage", PG,
               "--workers", "1", *[word for item in tricky for word in ("--set", item)]]
    job = script.SlurmJob(name="e2e", workers=2, command=command, workdir=folder, log_dir=folder / "logs",
                          made_by="gan-ablate launch slurm 'x'\necho injected")
    text = script.render(job)
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_JOB_ID": "7", "SLURM_CPUS_PER_TASK": "2"}
    done = subprocess.run(["bash", "-c", text], capture_output=True, text=True, env=env, cwd=folder)
    assert done.returncode == 0, done.stderr
    first, argv = done.stdout.splitlines()
    assert first == f"gan-ablate launch: task 1 of array job 7 on {os.uname().nodename.split('.')[0]}, start 1"
    assert json.loads(argv) == command[2:]
    assert not (folder / "pwned").exists() and "injected" not in done.stdout


def test_a_single_node_script_pins_the_node_and_refuses_to_run_elsewhere(folder: Path) -> None:
    echo = folder / "echo_argv.py"
    echo.write_text("print('ran')")
    job = script.SlurmJob(name="e2e", workers=1, command=[sys.executable, str(echo), "-m", "harness.sweep", "c.yaml"],
                          workdir=folder, log_dir=folder, made_by="x", single_node_host="elsewhere")
    text = script.render(job)
    assert "#SBATCH --nodelist=elsewhere\n" in text
    done = subprocess.run(["bash", "-c", text], capture_output=True, text=True, cwd=folder,
                          env={**os.environ, "SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_JOB_ID": "1"})
    assert done.returncode == 2 and "ran" not in done.stdout
    assert "its SQLite stores live on elsewhere" in done.stderr


@pytest.mark.parametrize(("text", "seconds"), [("30", 1800), ("1:30", 90), ("2:00:00", 7200), ("1-0", 86400),
                                               ("1-2:30", 95400), ("0-0:0:45", 45), ("UNLIMITED", None),
                                               ("infinite", None)])
def test_slurm_times_are_read_as_sbatch_reads_them(text: str, seconds: int | None) -> None:
    assert script.time_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "1h", "1:2:3:4", "-5", "0", "0:00", "1 - 2", "1.5"])
def test_a_time_sbatch_would_not_take_is_refused(text: str) -> None:
    with pytest.raises(UserError, match="--time: "):
        script.time_seconds(text)


@pytest.mark.parametrize(("arg", "expect"), [
    ("--array=0-9", "use --workers"), ("-p", "use --partition"), ("--partition=gpu", "use --partition"),
    ("--signal=USR1@60", "use --warn-seconds"), ("--output=x.log", "launch sets it itself"),
    ("--gres=gpu:2", "use --gpus-per-worker"), ("-c4", "use --cpus-per-worker"), ("--no-requeue", "use --requeue"),
    ("--qos high", "not one sbatch option"), ("--comment=a\nb", "not one sbatch option"),
    ("qos=high", "not one sbatch option"), ("", "not one sbatch option")])
def test_a_pass_through_option_is_one_option_that_launch_does_not_set_itself(arg: str, expect: str) -> None:
    with pytest.raises(UserError, match=expect):
        script.check_sbatch_arg(arg)


@pytest.mark.parametrize("arg", ["--qos=high", "--account=proj-42", "--constraint=a100|h100", "-Aproj",
                                 "--exclusive", "--mail-type=END,FAIL", "--nodelist=gpu[01-04]"])
def test_other_sbatch_options_pass_through(arg: str) -> None:
    script.check_sbatch_arg(arg)


# --- the stores ---------------------------------------------------------------------------------

MOUNTS = "/dev/sda1 / ext4 rw 0 0\nnfs-server:/home /home nfs4 rw 0 0\n/dev/sdb1 /home/scratch xfs rw 0 0\n"


def test_the_filesystem_is_that_of_the_longest_mount_point() -> None:
    assert shared.filesystem_type(Path("/home/alice/runs"), MOUNTS) == "nfs4"
    assert shared.filesystem_type(Path("/home/scratch/x"), MOUNTS) == "xfs"
    assert shared.filesystem_type(Path("/opt"), MOUNTS) == "ext4"


def test_stores_that_other_nodes_cannot_share_are_refused_unless_single_node() -> None:
    ok = [(("--storage", PG), ("--tracking-uri", SERVER), Path("/opt")),  # services: from anywhere
          (("--storage", PG), ("--tracking-uri", PG.replace("optuna", "mlflow")), Path("/home/alice"))]  # on NFS
    for storage, tracking, where in ok:
        shared.check_shared(storage, tracking, False, where, MOUNTS)
    refused = [(("sweep.storage", "sqlite:///runs/optuna.db"), ("--tracking-uri", SERVER), Path("/home/alice"),
                "sweep.storage: 'sqlite:///runs/optuna.db' is a SQLite file"),
               (("--storage", PG), ("tracking.uri", "sqlite:////home/alice/m.db"), Path("/home/alice"),
                "tracking.uri: 'sqlite:////home/alice/m.db' is a SQLite file"),
               (("--storage", PG), ("--tracking-uri", PG), Path("/home/scratch/me"), "on a local filesystem (xfs)")]
    for storage, tracking, where, expect in refused:
        with pytest.raises(UserError, match=expect.replace("(", r"\(").replace(")", r"\)")):
            shared.check_shared(storage, tracking, False, where, MOUNTS)
        shared.check_shared(storage, tracking, True, where, MOUNTS)  # --single-node: the user's call


def test_a_url_with_a_password_is_not_written_into_a_script() -> None:
    with pytest.raises(UserError, match=r"holds a password, which would be written into the job script.*PGPASSWORD"):
        shared.check_no_password("--storage", "postgresql://harness:s3cret@db:5432/optuna")
    shared.check_no_password("--storage", PG)
    shared.check_no_password("--tracking-uri", "https://mlflow.example.org/a:b@c")  # no credentials: a path


# --- bad input: one line, exit 2, nothing written or submitted ------------------------------------

BAD = [
    ([], "--workers"),  # required
    (["--workers", "0"], "--workers: 0 is out of range"),
    (["--workers", "1001"], "--workers: 1001 is out of range"),
    (["--workers", "2", "--cpus-per-worker", "0"], "--cpus-per-worker: 0 is out of range"),
    (["--workers", "2", "--warn-seconds", "-1"], "--warn-seconds: -1 is out of range"),
    (["--workers", "2", "--time", "2h"], "--time: '2h' is not a Slurm time"),
    (["--workers", "2", "--time", "1", "--warn-seconds", "60"], "--warn-seconds: 60 is not shorter than --time 1"),
    (["--workers", "2", "--partition", "gpu;rm -rf ~"], "--partition: 'gpu;rm -rf ~' is not allowed"),
    (["--workers", "2", "--mem", "lots"], "--mem: 'lots' is not allowed"),
    (["--workers", "2", "--gpus-per-worker", "one"], "--gpus-per-worker: 'one' is not allowed"),
    (["--workers", "2", "--sbatch-arg=--array=0-3"], "use --workers"),
    (["--workers", "2", "--python", " "], "--python: names no command"),
    (["--workers", "2", "train.steps=-1"], "train.steps: "),
    (["--workers", "2", "--storage", "mysql://x"], "--storage: 'mysql://x' is not a supported URL"),
]


@pytest.mark.parametrize(("args", "expect"), BAD)
def test_bad_input_is_one_line_exit_2_and_nothing_written(capfd: pytest.CaptureFixture, folder: Path,
                                                          args: list[str], expect: str) -> None:
    config = write_config(folder)
    code, out, err = launch(capfd, "slurm", str(config), *SHARED, *args)
    assert code == 2 and out == "", err
    assert err.count("\n") == 1 and err.startswith("error: ") and expect in err, err
    assert sorted(p.name for p in folder.iterdir()) == ["sweep.yaml"]


def test_sqlite_stores_need_single_node_and_say_so(capfd: pytest.CaptureFixture, folder: Path) -> None:
    config = write_config(folder)  # the tiny config's stores: SQLite files under runs/
    code, _, err = launch(capfd, "slurm", str(config), "--workers", "2")
    assert code == 2 and err.count("\n") == 1
    assert "sweep.storage: 'sqlite:///runs/optuna.db' is a SQLite file" in err and "--single-node" in err
    code, out, _ = launch(capfd, "slurm", str(config), "--workers", "2", "--single-node", "--print-script")
    assert code == 0 and f"--storage sqlite:///{folder}/runs/optuna.db" in out
    assert sorted(p.name for p in folder.iterdir()) == ["sweep.yaml"]


def test_without_sbatch_nothing_is_written(capfd: pytest.CaptureFixture, folder: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(folder / "empty"))
    config = write_config(folder)
    code, _, err = launch(capfd, "slurm", str(config), "--workers", "2", *SHARED)
    assert code == 2 and err == "error: sbatch: not found; run launch on a Slurm login node (or use --print-script)\n"
    assert sorted(p.name for p in folder.iterdir()) == ["sweep.yaml"]


def test_gan_ablate_launch_is_the_same_command(capfd: pytest.CaptureFixture, folder: Path) -> None:
    config = write_config(folder)
    args = ["slurm", str(config), "--workers", "2", *SHARED, "--print-script"]
    _, direct, _ = launch(capfd, *args)
    code, through_cli, _ = launch(capfd, "launch", *args, entry=cli_main)
    assert code == 0 and through_cli == direct and direct.startswith("#!/bin/bash\n")
    code, out, _ = launch(capfd, "launch", "--help", entry=cli_main)
    assert code == 0 and "gan-ablate launch slurm experiments/ablation.yaml --workers 8" in out
    assert "--wait exits with the sweep's code" in out
    code, _, err = launch(capfd, "launch", "pbs", str(config), "--workers", "2", entry=cli_main)
    assert code == 2 and "invalid choice: 'pbs'" in err and err.count("\n") == 1


def test_python_m_harness_launch_works() -> None:
    done = subprocess.run([sys.executable, "-m", "harness.launch", "--help"], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0 and "python -m harness.launch" in done.stdout


# --- --wait: the tasks' ends as one exit code -----------------------------------------------------

@pytest.mark.parametrize(("state", "exit_code", "code"), [
    ("COMPLETED", "0:0", 0), ("FAILED", "3:0", 3), ("FAILED", "4:0", 4), ("FAILED", "2:0", 2),
    ("FAILED", "1:0", 1), ("FAILED", "143:0", 143),  # the warning before the limit: the sweep exited 143 itself
    ("TIMEOUT", "0:15", 143), ("TIMEOUT", "0:9", 143), ("CANCELLED", "0:0", 143),  # scancel of a pending task
    ("CANCELLED", "143:0", 143), ("PREEMPTED", "0:15", 143), ("CANCELLED", "2:0", 2),
    ("NODE_FAIL", "0:0", 4), ("OUT_OF_MEMORY", "0:125", 4), ("FAILED", "0:9", 4), ("FAILED", "0:11", 1),
    ("FAILED", "127:0", 2),  # the script could not start the interpreter: the environment
])
def test_each_ended_task_gets_a_harness_exit_code(state: str, exit_code: str, code: int) -> None:
    assert wait.task_code(state, exit_code) == code


@pytest.mark.parametrize(("codes", "code"), [
    ([0, 0], 0), ([0, 143], 0), ([143, 0, 4], 0),  # a task saw the sweep settled: the others' ends do not matter
    ([3, 0], 3), ([3, 143], 3), ([2, 0], 2), ([0, 1, 2], 1),  # a bug or bad input shows whatever the others did
    ([143, 143], 143), ([143, 4], 4), ([130, 143], 143), ([129], 129)])
def test_the_array_answers_with_the_worst_code_in_the_documented_order(codes: list[int], code: int) -> None:
    assert wait.array_code(codes) == code


SCONTROL = """JobId=12 ArrayJobId=11 ArrayTaskId=1 JobName=gan-ablate-e2e JobState=RUNNING Reason=None Restarts=1 \
ExitCode=0:0 NodeList=vm BatchHost=vm StdOut=/x/11_1.log
JobId=11 ArrayJobId=11 ArrayTaskId=2-3,5%2 JobName=gan-ablate-e2e JobState=PENDING Reason=Resources ExitCode=0:0 \
BatchHost=(null)
JobId=13 ArrayJobId=11 ArrayTaskId=0 JobName=gan-ablate-e2e JobState=FAILED Reason=NonZeroExitCode ExitCode=143:0 \
BatchHost=vm
"""


def test_scontrol_records_become_one_state_per_task() -> None:
    tasks = wait.parse_records(SCONTROL)
    assert sorted(tasks) == [0, 1, 2, 3, 5]
    assert tasks[1] == wait.TaskState(1, "RUNNING", "0:0", "vm", 1)
    assert tasks[3] == wait.TaskState(3, "PENDING", "0:0", "", 0) and not tasks[3].ended
    assert tasks[0].ended and wait.task_code(tasks[0].state, tasks[0].exit_code) == 143


def test_a_failed_task_is_described_with_its_error_line(tmp_path: Path) -> None:
    log = tmp_path / "11_0.log"
    log.write_text("plan ...\nerror: tracking.uri: cannot reach http://db-host:5000\n")
    line = wait.describe(wait.TaskState(0, "FAILED", "2:0", "gpu07"), log)
    assert line == ("task 0: FAILED on gpu07 (ExitCode 2:0), exit 2: "
                    "error: tracking.uri: cannot reach http://db-host:5000")
    assert wait.describe(wait.TaskState(1, "RUNNING", node="gpu07", restarts=1), log) == \
        "task 1: RUNNING on gpu07, start 2"


def test_wait_counts_a_task_the_controller_forgot_unseen_as_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """A fake scontrol (the real one is in test_launch_slurm.py): task 0 ends, then the controller forgets the
    job before task 1 was seen to end, and no sacct has it: task 1 counts as a lost worker, and says so."""
    calls = tmp_path / "calls"
    fake = tmp_path / "scontrol"
    fake.write_text(f"""#!/bin/bash
n=0; [ -f {calls} ] && read -r n < {calls}; echo $((n + 1)) > {calls}  # builtins only: PATH is this folder
if [ "$n" -eq 0 ]; then
  echo "JobId=8 ArrayJobId=7 ArrayTaskId=0 JobState=RUNNING ExitCode=0:0 BatchHost=vm"
  echo "JobId=9 ArrayJobId=7 ArrayTaskId=1 JobState=RUNNING ExitCode=0:0 BatchHost=vm"
elif [ "$n" -eq 1 ]; then
  echo "JobId=8 ArrayJobId=7 ArrayTaskId=0 JobState=COMPLETED ExitCode=0:0 BatchHost=vm"
else
  echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1
fi
""")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))  # no sacct either
    tasks = wait.follow("7", 2, lambda task: tmp_path / f"7_{task}.log", poll_s=0.01)
    assert [wait.task_code(t.state, t.exit_code) for t in tasks.values()] == [0, 4]
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["task 0: RUNNING on vm", "task 1: RUNNING on vm",
                       "task 0: COMPLETED on vm (ExitCode 0:0), exit 0"]
    assert out[3].startswith("task 1: its end was not seen (the controller forgot it and no accounting has it)")

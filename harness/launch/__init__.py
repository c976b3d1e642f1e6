"""`gan-ablate launch`: a sweep's workers as a batch scheduler's job, past one machine.

`launch slurm CONFIG --workers N` validates the config and the stores, writes a plain sbatch script
that a user can read, keep, edit and submit again (`script`), submits it as a job array of N sweep
workers, and with `--wait` follows the array to its end and answers with the sweep's exit code
(`slurm`, `wait`). `shared` refuses stores that the tasks on other nodes could not share.

Sits on the top rows, beside `plugins` and `fetch_weights`: it may import `harness.core`,
`harness.stores`, `harness.config` and (for the final report) `harness.report`, never the sweep,
whose command each task runs as a separate process.
"""

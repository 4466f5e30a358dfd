#!/usr/bin/env python3
"""Side-by-side timing with the commands interleaved.

hyperfine runs all rounds of one command, then all of the next: on a shared
VM whose disk state drifts during a benchmark (writeback of the previous
command's files, ext4's recently-deleted inode window, other tenants), the
command measured last pays for what the first left behind. Here every round
runs each command once, in an order that rotates from round to round, so
drift spreads over all of them alike.

Usage: interleave.py SPEC.json ROUNDS WARMUP OUT.json
SPEC: [{"name": ..., "prepare": shell, "command": shell}, ...]
Prints mean ± standard deviation, median and CPU time (user + system, of
the command's whole process tree, from wait4) per command; OUT.json holds
every sample.
"""
import json
import os
import statistics
import subprocess
import sys
import time


def run_once(entry):
    if entry.get("prepare"):
        subprocess.run(["bash", "-c", entry["prepare"]], check=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        ["bash", "-c", entry["command"]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.stderr.write(stderr.decode(errors="replace"))
        sys.exit(f"interleave: `{entry['name']}` failed with status {process.returncode}")
    return {"wall": wall, "user": usage.ru_utime, "system": usage.ru_stime}


def main():
    spec_path, rounds, warmup, out_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    spec = json.load(open(spec_path))
    samples = {entry["name"]: [] for entry in spec}
    for round_number in range(warmup + rounds):
        shift = round_number % len(spec)
        for entry in spec[shift:] + spec[:shift]:
            sample = run_once(entry)
            if round_number >= warmup:
                samples[entry["name"]].append(sample)
    results = []
    for entry in spec:
        runs = samples[entry["name"]]
        walls = [run["wall"] for run in runs]
        result = {
            "command": entry["name"],
            "mean": statistics.mean(walls),
            "stddev": statistics.stdev(walls) if len(walls) > 1 else 0.0,
            "median": statistics.median(walls),
            "user": statistics.mean(run["user"] for run in runs),
            "system": statistics.mean(run["system"] for run in runs),
            "times": walls,
        }
        results.append(result)
        print(
            f"{entry['name']:>16}: {result['mean']:.3f} s ± {result['stddev']:.3f} "
            f"(median {result['median']:.3f} s; user {result['user']:.3f} s, "
            f"system {result['system']:.3f} s; {len(walls)} runs)"
        )
    json.dump({"results": results}, open(out_path, "w"), indent=1)


if __name__ == "__main__":
    main()

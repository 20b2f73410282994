"""Two frameworks trained in child processes of their own that take turns, so that both see the same machine.

This machine's speed drifts by 20 % and more over tens of seconds; whole epochs one after
the other mix that drift into the ratio of their times. Here each framework trains in its
own child process (so that its peak memory can be read alone, and neither's thread pool
spins while the other works), and the parent lets them run one chunk of batches at a
time, in the order A B B A A B ...: a change in load lasting longer than a few seconds
falls on both alike. Only one child runs at a time, and the first turn waits until every
child is built (data loaded, libraries imported): the first child's first turn once ran
beside the second child's start-up, at twice its later time per step. Each turn starts
``PAUSE_S`` (0.25 s; environment variable TINYAE_TURN_PAUSE) after the last one ended:
a thread pool keeps spinning for a while after its last call, and without the pause
PyTorch's dense and deep epochs (turns of 0.15 s) were 22–30 % slower, tinyae's 7–17 %.

A benchmark script uses it so:

* it defines a trainer class per framework with ``next_chunk()`` (train the next run of
  batches), ``evaluate()`` (a JSON-able dict, not timed) and ``memory()`` (MB, or None for
  the child's peak resident size over its size before training: the peak is reset once the
  trainer is built, so loading the data does not count);
* its ``main`` calls ``child_main(make)`` when run with ``--child NAME ...``, where
  ``make(NAME)`` builds that trainer;
* the parent opens ``Turns(__file__, ["tinyae", "torch"], child_args)``, calls ``step(k)``
  for each chunk k, ``evaluate()`` when it wants figures, and ``close()`` for the peaks.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


# Between turns: a BLAS or OpenMP thread pool keeps its threads spinning for a while after its last call
# (OpenBLAS up to about 0.1 s), and on 2 cores they would take CPU time from the next child's turn.
PAUSE_S = float(os.environ.get("TINYAE_TURN_PAUSE", "0.25"))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def reset_peak_rss() -> bool:
    """Start the peak resident size afresh (Linux: write 5 to /proc/self/clear_refs); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """The peak resident size: since `reset_peak_rss` where that worked (VmHWM), else over the process's life."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def epoch_chunks(n: int, batch_size: int, seed: int, chunks: int) -> list[np.ndarray]:
    """The sample indices of one shuffled epoch (the batches ``fit`` would draw with this seed), cut into
    ``chunks`` runs of whole batches, so that training the runs in order trains exactly that epoch."""
    from tinyae.train import batches
    epoch = batches(n, batch_size, np.random.default_rng(seed))
    bounds = np.linspace(0, len(epoch), chunks + 1).round().astype(int)
    return [np.concatenate(epoch[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


class Trainer:
    """What a child trains. Subclasses define ``next_chunk``; by default no figures (``evaluate``), nothing
    timed beside the turns (``measure``) and the child's own peak resident size (``memory`` None)."""

    def next_chunk(self):
        raise NotImplementedError

    def evaluate(self) -> dict:
        return {}

    def measure(self) -> dict:
        """Figures timed right after a turn, in the same turn (not counted in its seconds)."""
        return {}

    def memory(self):
        return None


def child_main(make) -> None:
    """The child's side: build the trainer, then obey the parent's lines: go, eval, end."""
    trainer = make()
    base = rss_mb()
    if not reset_peak_rss():                               # the peak of loading the data would count
        print("turns.py: cannot reset the peak resident size here: memory figures include loading the data",
              file=sys.stderr)
    print(json.dumps({"ready": True}), flush=True)         # the parent waits for every child before turn 1
    for line in sys.stdin:
        command = line.strip()
        if command == "go":
            start = time.perf_counter()
            trainer.next_chunk()
            print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)
        elif command == "eval":
            print(json.dumps(trainer.evaluate()), flush=True)
        elif command == "measure":
            print(json.dumps(trainer.measure()), flush=True)
        elif command == "end":
            memory = trainer.memory()
            print(json.dumps({"peak_mb": peak_rss_mb() - base if memory is None else memory}), flush=True)
            return


class Turns:
    """The parent's side: one child per framework, run a chunk at a time in turn."""

    def __init__(self, script: str, frameworks: list[str], child_args: list[str]):
        self.frameworks = list(frameworks)
        self.procs = {name: subprocess.Popen([sys.executable, script, "--child", name, *child_args],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                      for name in self.frameworks}
        self.seconds = dict.fromkeys(self.frameworks, 0.0)
        self.measured = {name: [] for name in self.frameworks}     # each turn's ``Trainer.measure()``
        for name in self.frameworks:                       # all built (data loaded, libraries imported) before
            self._read(name)                               # any turn: else the first runs beside a busy process

    def _ask(self, name: str, command: str) -> dict:
        proc = self.procs[name]
        proc.stdin.write(command + "\n")
        proc.stdin.flush()
        return self._read(name)

    def _read(self, name: str) -> dict:
        line = self.procs[name].stdout.readline()
        if not line:
            raise RuntimeError(f"the {name} child stopped (exit status {self.procs[name].wait()})")
        return json.loads(line)

    def step(self, k: int, measure: bool = False) -> dict:
        """Chunk k for every framework, in the order A B for even k and B A for odd k; the seconds of each.

        ``measure``: each child's ``Trainer.measure()`` right after its chunk, in its turn (``measured``).
        """
        took = {}
        for name in (self.frameworks if k % 2 == 0 else self.frameworks[::-1]):
            time.sleep(PAUSE_S)                            # the last child's idle threads stop spinning
            took[name] = self._ask(name, "go")["seconds"]
            self.seconds[name] += took[name]
            if measure:
                self.measured[name].append(self._ask(name, "measure"))
        return took

    def evaluate(self) -> dict:
        return {name: self._ask(name, "eval") for name in self.frameworks}

    def close(self) -> dict:
        """Each child's peak memory (MB); the children exit."""
        peaks = {}
        for name, proc in self.procs.items():
            peaks[name] = self._ask(name, "end")["peak_mb"]
            proc.stdin.close()
            if proc.wait() != 0:
                raise RuntimeError(f"the {name} child failed")
        return peaks

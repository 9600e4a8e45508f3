"""Steps per second of the default recipe, option by option (``bench/training.py --speed``).

A worker process (``python bench/_training_speed.py --worker SPEC``) builds the default model's
run once, exactly as ``tonewatch train`` does (project corpus,
:func:`~pipeline.training.finetune.split_data`, :func:`~pipeline.training.finetune.build_model`,
:func:`~pipeline.training.session.set_up`), then, for each of its options in turn (threads,
bf16 autocast, frozen lower layers, length grouping; ``rounds`` rounds, median reported), times
after warm-up steps:

- ``probe``: steps of the linear-probe phase (encoder frozen, head trains; its own AdamW);
- ``finetune``: steps of the fine-tuning phase (all but the frozen weights train; the recipe's
  AdamW, schedule and moving average);
- ``score``: forward passes of the torch scoring backend
  (:class:`~pipeline.scoring.backends.TorchBackend`, float32 on the CPU) over the validation
  rows in length-sorted batches of 64, in rows per second.

Options read when torch loads get a worker of their own: the OpenMP wait policy
(``OMP_WAIT_POLICY``) and the instruction-set caps. The worker prints its results after every
option, so one stopped by the timeout keeps what it measured. The options draw their batches one
after another from the run's seeded generator (random length-grouped batches of the corpus).
Scenarios:

- ``native``: this CPU as it is (bf16 autocast where it has AVX512-BF16/AMX);
- ``avx2``: an AVX2-only CPU without bf16, emulated: ``ATEN_CPU_CAPABILITY=avx2`` (ATen's own
  kernels), ``ONEDNN_MAX_CPU_ISA=AVX2`` (oneDNN: linear layers, bf16 kernels),
  ``MKL_ENABLE_INSTRUCTIONS=AVX2`` (MKL GEMMs) and ``"bf16": false``;
- ``ort``: ONNX Runtime's training API against torch in float32 (:func:`ort_worker`; only with
  ``--ort-python``);
- ``compile``: ``torch.compile`` of the model (inductor, dynamic shapes) against the default;
- ``score``: the torch scoring backend, old and new thread policy;
- ``+busy``: the same while another process (``python -c 'while True: pass'``) spins on core 0,
  started before the worker and killed after it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
            "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
#: The core the busy process spins on.
BUSY_CORE = 0


def variant(name: str, threads: str | int = "all", **settings) -> dict:
    """One option measured inside a worker: a name, the thread setting (``all``: one per core,
    the old policy; ``policy``: :func:`pipeline.scoring.threads.configure_cpu_threads`, the new
    one; a number) and TrainingArguments overrides that can change between steps (``bf16``,
    ``freeze_layers``, ``group_by_length``)."""
    return {"option": name, "threads": threads, "settings": settings}


def process(scenario: str, variants: list[dict], *, env: dict | None = None,
            phases: tuple[str, ...] = ("probe", "finetune"), pin: str | None = None) -> dict:
    """One worker subprocess: its scenario, environment (read when torch loads: wait policy,
    instruction-set caps), ``taskset`` core list and the variants it interleaves."""
    return {"scenario": scenario, "env": env or {}, "phases": list(phases), "pin": pin,
            "variants": variants}


def plan(scenarios: list[str], ort_python: str | None = None) -> list[dict]:
    """Worker processes to run, in order. The first variant of each scenario is its reference
    (the old default: bf16 where native, one thread per core, spinning waits)."""
    old = variant("default (old threads)")
    new = variant("new thread policy", "policy")
    passive = {"OMP_WAIT_POLICY": "PASSIVE"}
    off = {"bf16": False}
    runs: list[dict] = []
    if "native" in scenarios:
        runs += [process("native", [old, variant("threads 1", 1), new,
                                    variant("threads 1, bf16 off", 1, bf16=False),
                                    variant("threads 1, freeze lower 3 of 6 layers", 1,
                                            freeze_layers=3),
                                    variant("threads 1, group_by_length off", 1,
                                            group_by_length=False)])]
    if "native+passive" in scenarios:
        runs += [process("native", [variant("threads 2 OMP_WAIT_POLICY=PASSIVE")], env=passive)]
    if "native+busy" in scenarios:
        runs += [process("native+busy", [new, old])]
    if "native+busy+passive" in scenarios:
        runs += [process("native+busy", [variant("threads 2 OMP_WAIT_POLICY=PASSIVE")],
                         env=passive)]
    if "native+busy+pin" in scenarios:
        runs += [process("native+busy", [variant("threads 1 pinned to the free core", 1)],
                         pin=str(1 - BUSY_CORE))]
    if "avx2" in scenarios:
        runs += [process("avx2", [variant("threads 1", 1, bf16=False),
                                  variant("default (old threads)", bf16=False)], env=AVX2_ENV)]
    if "avx2+busy" in scenarios:
        runs += [process("avx2+busy", [variant("default (old threads)", **off),
                                       variant("new thread policy", "policy", **off)],
                         env=AVX2_ENV)]
    for scenario in ("score", "score+busy"):
        if scenario in scenarios:
            runs += [process(scenario, [variant("torch backend, new thread policy", "policy"),
                                        variant("torch backend, old threads")],
                             phases=("score",))]
    if "ort" in scenarios and ort_python:
        runs += [process("ort", [variant("torch float32 (bf16 off)", bf16=False)],
                         phases=("finetune",)),
                 {**process("ort", [variant("onnxruntime-training float32")],
                            phases=("finetune",)), "python": ort_python, "ort": True}]
    if "compile" in scenarios:
        runs += [process("compile", [old]),
                 {**process("compile", [variant("torch.compile (inductor, dynamic)")]),
                  "compile": True}]
    return runs


# ----------------------------------------------------------------------------------- worker

def _rate(fit, steps: int, warmup: int, optimizer, scheduler, average: bool) -> float:
    """Steps per second over ``steps`` steps after ``warmup`` untimed ones."""
    if warmup:
        fit.run_epoch(0, optimizer, scheduler, average=average, max_steps=warmup)
    started = time.perf_counter()
    fit.run_epoch(0, optimizer, scheduler, average=average, max_steps=steps)
    return steps / (time.perf_counter() - started)


def _apply(fit, model, spec_variant: dict, native: bool, base_args) -> int:
    """Set one variant's threads, bf16, frozen layers and length grouping; return threads."""
    import dataclasses

    import torch

    from pipeline.scoring.threads import available_cores, configure_cpu_threads
    from pipeline.training.parameters import depth_below_top

    threads = spec_variant["threads"]
    if threads == "policy":
        configure_cpu_threads()
    elif threads == "all":
        torch.set_num_threads(available_cores())
    else:
        torch.set_num_threads(int(threads))
    settings = spec_variant["settings"]
    fit.use_bf16 = bool(settings.get("bf16", base_args.bf16) and native)
    fit.args = dataclasses.replace(base_args, **{k: v for k, v in settings.items()
                                                 if k == "group_by_length"})
    frozen = settings.get("freeze_layers", 0)
    n_layers = model.config.num_hidden_layers
    for name, param in fit.params.items():
        if frozen and depth_below_top(name, n_layers) > n_layers - frozen:
            param.requires_grad_(False)
            param.grad = None
    return torch.get_num_threads()


def _restore(fit) -> None:
    for param in fit.params.values():
        param.requires_grad_(True)


def worker(spec: dict) -> dict:
    """Build the default recipe's run once; time each variant's phases, interleaved over
    ``rounds`` rounds (so that load changing during the run hits every variant alike)."""
    import tempfile

    import torch
    from tqdm.auto import tqdm
    from transformers import set_seed

    from pipeline.training.arguments import TrainingArguments
    from pipeline.training.datasets import load_labelled
    from pipeline.training.finetune import build_model, native_bf16, split_data
    from pipeline.training.parameters import is_head
    from pipeline.training.session import set_up
    from pipeline.training.train import resolve_base

    args = TrainingArguments()
    frame = load_labelled(ROOT / "models" / "corpus")
    set_seed(args.seed)
    train_df, val_df, _ = split_data(frame, args)
    tokenizer, model = build_model(resolve_base(""), args, "cpu")
    native = native_bf16("cpu") and "ATEN_CPU_CAPABILITY" not in os.environ
    rates: dict[str, dict[str, list[float]]] = {v["option"]: {} for v in spec["variants"]}
    threads: dict[str, int] = {}
    if "score" in spec["phases"]:
        from pipeline.scoring.backends import TorchBackend

        val = tokenizer(list(val_df["text"].astype(str)), truncation=True, max_length=64,
                        padding="max_length", return_tensors="np")
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            backend = TorchBackend(tmp, device="cpu")
        ids, mask = val["input_ids"], val["attention_mask"]
        order = mask.sum(1).argsort()  # length-sorted batches, as the scorer builds them
        batches = [order[i:i + 64] for i in range(0, len(order), 64)][:spec["score_batches"]]

        def score() -> float:
            started, rows = time.perf_counter(), 0
            for b in batches:
                width = int(mask[b].sum(1).max())
                backend.logits(ids[b][:, :width], mask[b][:, :width])
                rows += len(b)
            return rows / (time.perf_counter() - started)

        class _Fit:  # what _apply touches
            params: dict = {}

        for round_ in range(spec["rounds"]):
            for v in spec["variants"]:
                threads[v["option"]] = _apply(_Fit(), model, v, False, args)
                if round_ == 0:
                    backend.logits(ids[batches[0]], mask[batches[0]])
                rates[v["option"]].setdefault("score", []).append(score())
                _summary(spec, rates, threads, False)
    else:
        fit, optimizer, scheduler = set_up(model, tokenizer, train_df, val_df, args, "cpu",
                                           use_bf16=native)
        fit.bar = tqdm(disable=True)
        if spec.get("compile"):
            fit.model = torch.compile(model, dynamic=True)
        model.train()
        body = [p for n, p in fit.params.items() if not is_head(n)]
        head = [p for n, p in fit.params.items() if is_head(n)]
        probe = torch.optim.AdamW(head, lr=args.linear_probe_lr, weight_decay=args.weight_decay)
        for round_ in range(spec["rounds"]):
            warmup = spec["warmup"] * (3 if round_ == 0 and spec.get("compile") else 1)
            for v in spec["variants"]:
                threads[v["option"]] = _apply(fit, model, v, native, args)
                if "probe" in spec["phases"]:
                    for param in body:
                        param.requires_grad_(False)
                    rates[v["option"]].setdefault("probe", []).append(
                        _rate(fit, spec["probe_steps"], warmup, probe, None, False))
                    _restore(fit)
                    _apply(fit, model, v, native, args)
                if "finetune" in spec["phases"]:
                    rates[v["option"]].setdefault("finetune", []).append(
                        _rate(fit, spec["steps"], warmup, optimizer, scheduler, True))
                _restore(fit)
                _summary(spec, rates, threads, native)
    return _summary(spec, rates, threads, native)


def _summary(spec: dict, rates: dict, threads: dict, native: bool) -> dict:
    """Per variant measured so far: threads, capability, bf16 and the median rate per phase."""
    import statistics

    import torch

    out = {}
    for v in spec["variants"]:
        name = v["option"]
        if name not in threads:
            continue
        out[name] = {"threads": threads[name], "capability": torch.backends.cpu.get_cpu_capability(),
                     "bf16": bool(v["settings"].get("bf16", True) and native)}
        for phase, values in rates[name].items():
            key = "rows_per_s" if phase == "score" else "steps_per_s"
            out[name][phase] = {key: round(statistics.median(values), 3),
                                "rounds": [round(x, 3) for x in values]}
    # One line per finished variant: a worker stopped by the timeout keeps what it measured.
    print(json.dumps(out), flush=True)
    return out


def ort_worker(spec: dict) -> dict:
    """Fine-tuning steps of the same model and batches with ONNX Runtime's training API.

    Needs an interpreter with ``onnxruntime-training`` (it replaces the ``onnxruntime``
    package, so it lives in a venv of its own; ``--ort-python``). The model is exported with
    torch's TorchScript exporter in training mode (eager attention, opset 14: the newer
    LayerNormalization export lacks the outputs ORT's gradient builder needs), the gradient and
    AdamW graphs come from ``onnxruntime.training.artifacts`` (written with IR version 14 by
    onnx 1.23, which ORT 1.19 cannot load: lowered to 9). The loss is plain cross-entropy, with
    no class weights, label smoothing, token masking, gradient clipping or moving average: the
    step's compute, not the whole recipe. float32 only (ORT trains no bf16 on the CPU).
    """
    import tempfile

    import numpy as np
    import onnx
    import torch
    from onnxruntime import SessionOptions
    from onnxruntime.training import artifacts
    from onnxruntime.training.api import CheckpointState, Module, Optimizer
    from tqdm.auto import tqdm
    from transformers import set_seed

    from pipeline.training.arguments import TrainingArguments
    from pipeline.training.batches import epoch_batches
    from pipeline.training.datasets import load_labelled
    from pipeline.training.finetune import build_model, split_data
    from pipeline.training.session import set_up
    from pipeline.training.train import resolve_base

    args = TrainingArguments(bf16=False)
    frame = load_labelled(ROOT / "models" / "corpus")
    set_seed(args.seed)
    train_df, val_df, _ = split_data(frame, args)
    tokenizer, model = build_model(resolve_base(""), args, "cpu")
    fit, _, _ = set_up(model, tokenizer, train_df, val_df, args, "cpu", use_bf16=False)
    fit.bar = tqdm(disable=True)
    model.set_attn_implementation("eager")
    model.train()

    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.m = inner

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).logits

    setting = os.environ.get("TONEWATCH_THREADS", "")
    threads = int(setting) if setting.isdigit() else 0  # 0: ORT's default, one per core
    with tempfile.TemporaryDirectory() as tmp:
        ids = torch.randint(1000, 2000, (2, 16))
        torch.onnx.export(Logits(model), (ids, torch.ones_like(ids)), f"{tmp}/forward.onnx",
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "b", 1: "t"},
                                        "attention_mask": {0: "b", 1: "t"}, "logits": {0: "b"}},
                          do_constant_folding=False, training=torch.onnx.TrainingMode.TRAINING,
                          dynamo=False, opset_version=14)
        graph = onnx.load(f"{tmp}/forward.onnx")
        trainable = {f"m.{n}" for n in fit.params}
        names = [i.name for i in graph.graph.initializer]
        artifacts.generate_artifacts(
            graph, requires_grad=[n for n in names if n in trainable],
            frozen_params=[n for n in names if n not in trainable],
            loss=artifacts.LossType.CrossEntropyLoss, optimizer=artifacts.OptimType.AdamW,
            artifact_directory=tmp)
        for name in ("training_model.onnx", "eval_model.onnx", "optimizer_model.onnx"):
            part = onnx.load(f"{tmp}/{name}")
            part.ir_version = min(part.ir_version, 9)
            onnx.save(part, f"{tmp}/{name}")
        options = SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        state = CheckpointState.load_checkpoint(f"{tmp}/checkpoint")
        module = Module(f"{tmp}/training_model.onnx", state, f"{tmp}/eval_model.onnx", "cpu",
                        session_options=options)
        optimizer = Optimizer(f"{tmp}/optimizer_model.onnx", module)
        optimizer.set_learning_rate(args.learning_rate)
        module.train()
        batches = epoch_batches(len(fit.train_y), fit.lengths, args, fit.generator)
        seconds = 0.0
        for n, idx in enumerate(batches[:spec["warmup"] + spec["steps"]]):
            width = int(fit.train_enc["attention_mask"][idx].sum(dim=1).max())
            x = fit.train_enc["input_ids"][idx][:, :width].numpy()
            a = fit.train_enc["attention_mask"][idx][:, :width].numpy()
            y = fit.train_y[idx].numpy().astype(np.int64)
            started = time.perf_counter()
            module(x, a, y)
            optimizer.step()
            module.lazy_reset_grad()
            if n >= spec["warmup"]:
                seconds += time.perf_counter() - started
    steps = spec["steps"]
    return {"capability": "onnxruntime", "bf16": False, "threads": threads or "ort",
            "finetune": {"steps": steps, "seconds": round(seconds, 2),
                         "steps_per_s": round(steps / seconds, 3)}}


# ----------------------------------------------------------------------------------- driver

def busy_process() -> subprocess.Popen:
    """A process spinning on :data:`BUSY_CORE` (stop it with ``.kill()``)."""
    return subprocess.Popen(["taskset", "-c", str(BUSY_CORE), sys.executable, "-c",
                             "while True: pass"])


def run_process(spec: dict, steps: int, warmup: int, rounds: int, timeout_s: float) -> list[dict]:
    """Run one worker (with the busy process for ``+busy`` scenarios); one row per variant."""
    from pipeline.scoring.threads import busy_cores

    scenario = spec["scenario"]
    spec = {**spec, "steps": steps, "probe_steps": steps * 2, "warmup": warmup,
            "rounds": rounds, "score_batches": 12}
    env = {k: v for k, v in os.environ.items()
           if k not in ("TONEWATCH_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
                        "OMP_NUM_THREADS", *AVX2_ENV)}
    env |= {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **spec["env"]}
    python = spec.get("python") or sys.executable
    cmd = [python, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    if spec["pin"]:
        cmd = ["taskset", "-c", spec["pin"], *cmd]
    others = round(busy_cores(0.5), 2)  # load of other work than this benchmark, for the record
    spinner = busy_process() if scenario.endswith("+busy") else None
    names = [v["option"] for v in spec["variants"]]
    try:
        if spinner:
            time.sleep(1.0)  # let it show in /proc/stat
        started = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout_s)
        wall = time.perf_counter() - started
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        done = json.loads(partial.strip().splitlines()[-1]) if partial.strip() else {}
        return [{"scenario": scenario, "option": n, "env": spec["env"], **done[n],
                 "other_busy_cores_before": others} if n in done else
                {"scenario": scenario, "option": n, "error": f"timed out after {timeout_s:.0f} s"}
                for n in names]
    finally:
        if spinner:
            spinner.kill()
            spinner.wait()
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        return [{"scenario": scenario, "option": n, "error": tail} for n in names]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return [{"scenario": scenario, "option": n, "env": spec["env"], "pin": spec["pin"],
             **result[n], "worker_wall_s": round(wall, 1), "other_busy_cores_before": others}
            for n in names]


def table(rows: list[dict]) -> str:
    """Plain-text table: scenario, option, threads, probe and fine-tune steps/s (or scoring
    rows/s), their ratio to the scenario's first option, and ``other``: the cores that other
    work than the benchmark kept busy just before the option ran (0 on a quiet machine)."""
    lines = [f"{'scenario':12s} {'option':38s} {'thr':>3s} {'probe st/s':>10s} {'x':>5s} "
             f"{'finetune st/s':>13s} {'x':>5s} {'score rows/s':>12s} {'x':>5s} {'other':>5s}"]
    reference: dict[str, dict] = {}
    for row in rows:
        ref = reference.setdefault(row["scenario"], row)
        if "error" in row:
            lines.append(f"{row['scenario']:12s} {row['option']:38s} error: {row['error'][:120]}")
            continue
        cells = []
        for phase, key in (("probe", "steps_per_s"), ("finetune", "steps_per_s"),
                           ("score", "rows_per_s")):
            if phase in row:
                value = row[phase][key]
                base = ref.get(phase, {}).get(key)
                cells.append(f"{value:>10.2f}" if phase == "probe" else
                             f"{value:>13.2f}" if phase == "finetune" else f"{value:>12.1f}")
                cells.append(f"{value / base:>5.2f}" if base else f"{'':>5s}")
            else:
                width = 10 if phase == "probe" else 13 if phase == "finetune" else 12
                cells += [f"{'-':>{width}s}", f"{'':>5s}"]
        lines.append(f"{row['scenario']:12s} {row['option']:38s} {row.get('threads', '?')!s:>3s} "
                     + " ".join(cells) + f" {row.get('other_busy_cores_before', 0):>5.2f}")
    return "\n".join(lines)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--worker":
    _spec = json.loads(sys.argv[2])
    if _spec.get("ort"):
        print(json.dumps({_spec["variants"][0]["option"]: ort_worker(_spec)}))
    else:
        print(json.dumps(worker(_spec)))

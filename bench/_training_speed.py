"""Steps per second of the default recipe, option by option (``bench/training.py --speed``).

Each option runs in its own subprocess (``python bench/_training_speed.py --worker SPEC``),
because the OpenMP wait policy (``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``) and the instruction-set
caps (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``, ``MKL_ENABLE_INSTRUCTIONS``) are read when
torch loads. A worker builds the default model's run exactly as ``tonewatch train`` does
(project corpus, :func:`~pipeline.training.finetune.split_data`,
:func:`~pipeline.training.finetune.build_model`, :func:`~pipeline.training.session.set_up`, the
thread policy of :mod:`pipeline.scoring.threads`), then times, after warm-up steps:

- ``probe``: steps of the linear-probe phase (encoder frozen, head trains; its own AdamW);
- ``finetune``: steps of the fine-tuning phase (all but the frozen weights train; the recipe's
  AdamW, schedule and moving average);
- ``score``: forward passes of the torch scoring backend
  (:class:`~pipeline.scoring.backends.TorchBackend`, float32 on the CPU) over the validation
  rows in batches of 64, in rows per second.

Every option sees the same batches (same seed), except ``group_by_length`` off, which draws
others. Scenarios:

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


def option(name: str, *, env: dict | None = None, args: dict | None = None,
           compile: bool = False, pin: str | None = None,
           phases: tuple[str, ...] = ("probe", "finetune")) -> dict:
    """One measured option: a name, extra environment, TrainingArguments overrides, phases.

    ``env`` holds ``TONEWATCH_THREADS`` (``all``: one thread per core, the old policy; unset: the
    new policy; a number: that many). ``pin`` is a ``taskset -c`` core list for the worker.
    """
    return {"option": name, "env": env or {}, "args": args or {}, "compile": compile,
            "pin": pin, "phases": list(phases)}


OLD = {"TONEWATCH_THREADS": "all"}


def plan(scenarios: list[str], ort_python: str | None = None) -> list[tuple[str, dict]]:
    """``[(scenario, option spec)]`` to run, in order; the first of each scenario is its
    reference (the old default: bf16 where native, one thread per core, spinning waits)."""
    runs: list[tuple[str, dict]] = []
    if "native" in scenarios:
        runs += [("native", o) for o in [
            option("default (old threads)", env=OLD),
            option("bf16 off", env=OLD, args={"bf16": False}),
            option("threads 1", env={"TONEWATCH_THREADS": "1"}),
            option("threads 2 OMP_WAIT_POLICY=PASSIVE", env={**OLD, "OMP_WAIT_POLICY": "PASSIVE"}),
            option("threads 2 GOMP_SPINCOUNT=10000", env={**OLD, "GOMP_SPINCOUNT": "10000"}),
            option("new thread policy", env={}),
            option("group_by_length off", env=OLD, args={"group_by_length": False}),
            option("freeze lower 2 layers", env=OLD, args={"freeze_layers": 2}),
            option("freeze lower 3 layers", env=OLD, args={"freeze_layers": 3}),
        ]]
    if "ort" in scenarios and ort_python:
        ort = {"python": ort_python, "ort": True}
        runs += [("ort", o) for o in [
            option("torch float32 (bf16 off)", env=OLD, args={"bf16": False},
                   phases=("finetune",)),
            {**option("onnxruntime-training float32", env=OLD, phases=("finetune",)), **ort},
            option("torch float32, AVX2 emulated", env={**AVX2_ENV, **OLD},
                   args={"bf16": False}, phases=("finetune",)),
        ]]
    if "compile" in scenarios:
        runs += [("compile", o) for o in [
            option("default (old threads)", env=OLD),
            option("torch.compile (inductor, dynamic)", env=OLD, compile=True),
        ]]
    if "native+busy" in scenarios:
        runs += [("native+busy", o) for o in [
            option("default (old threads)", env=OLD),
            option("threads 2 OMP_WAIT_POLICY=PASSIVE", env={**OLD, "OMP_WAIT_POLICY": "PASSIVE"}),
            option("threads 1", env={"TONEWATCH_THREADS": "1"}),
            option("threads 1 pinned to the free core", env={"TONEWATCH_THREADS": "1"},
                   pin=str(1 - BUSY_CORE)),
            option("new thread policy", env={}),
        ]]
    if "avx2" in scenarios:
        off = {"bf16": False}
        runs += [("avx2", o) for o in [
            option("default (old threads)", env={**AVX2_ENV, **OLD}, args=off),
            option("threads 1", env={**AVX2_ENV, "TONEWATCH_THREADS": "1"}, args=off),
            option("new thread policy", env=dict(AVX2_ENV), args=off),
            option("freeze lower 3 layers", env={**AVX2_ENV, **OLD},
                   args={**off, "freeze_layers": 3}),
        ]]
    if "avx2+busy" in scenarios:
        off = {"bf16": False}
        runs += [("avx2+busy", o) for o in [
            option("default (old threads)", env={**AVX2_ENV, **OLD}, args=off),
            option("threads 2 OMP_WAIT_POLICY=PASSIVE",
                   env={**AVX2_ENV, **OLD, "OMP_WAIT_POLICY": "PASSIVE"}, args=off),
            option("new thread policy", env=dict(AVX2_ENV), args=off),
        ]]
    for scenario, busy in (("score", False), ("score+busy", True)):
        if scenario in scenarios:
            runs += [(scenario, o) for o in [
                option("torch backend, old threads", env=OLD, phases=("score",)),
                option("torch backend, new thread policy", env={}, phases=("score",)),
            ]]
    return runs


# ----------------------------------------------------------------------------------- worker

def _timed(fit, steps: int, warmup: int, optimizer, scheduler, average: bool) -> dict:
    fit.run_epoch(0, optimizer, scheduler, average=average, max_steps=warmup)
    started = time.perf_counter()
    fit.run_epoch(0, optimizer, scheduler, average=average, max_steps=steps)
    seconds = time.perf_counter() - started
    return {"steps": steps, "seconds": round(seconds, 2), "steps_per_s": round(steps / seconds, 3)}


def worker(spec: dict) -> dict:
    """Build the default recipe's run with ``spec``'s overrides; time its phases."""
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

    args = TrainingArguments(**spec["args"])
    frame = load_labelled(ROOT / "models" / "corpus")
    set_seed(args.seed)
    train_df, val_df, _ = split_data(frame, args)
    tokenizer, model = build_model(resolve_base(""), args, "cpu")
    out: dict = {"capability": torch.backends.cpu.get_cpu_capability(),
                 "bf16": bool(args.bf16 and native_bf16("cpu"))}
    if "score" in spec["phases"]:
        from pipeline.scoring.backends import TorchBackend

        val = tokenizer(list(val_df["text"].astype(str)), truncation=True, max_length=64,
                        padding="max_length", return_tensors="np")
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            backend = TorchBackend(tmp, device="cpu")
        out["threads"] = torch.get_num_threads()
        ids, mask = val["input_ids"], val["attention_mask"]
        order = mask.sum(1).argsort()  # length-sorted batches, as the scorer builds them
        batches = [order[i:i + 64] for i in range(0, len(order), 64)]
        for b in batches[:4]:
            backend.logits(ids[b][:, :int(mask[b].sum(1).max())], mask[b][:, :int(mask[b].sum(1).max())])
        started, rows = time.perf_counter(), 0
        for b in batches[:spec.get("score_batches", 40)]:
            width = int(mask[b].sum(1).max())
            backend.logits(ids[b][:, :width], mask[b][:, :width])
            rows += len(b)
        seconds = time.perf_counter() - started
        out["score"] = {"rows": rows, "seconds": round(seconds, 2),
                        "rows_per_s": round(rows / seconds, 1)}
        return out
    fit, optimizer, scheduler = set_up(model, tokenizer, train_df, val_df, args, "cpu",
                                       use_bf16=out["bf16"])
    fit.bar = tqdm(disable=True)
    out["threads"] = fit.configure_threads()
    if spec["compile"]:
        fit.model = torch.compile(model, dynamic=True)
    model.train()
    if "probe" in spec["phases"]:
        body = [p for n, p in fit.params.items() if not is_head(n)]
        head = [p for n, p in fit.params.items() if is_head(n)]
        for param in body:
            param.requires_grad_(False)
        probe = torch.optim.AdamW(head, lr=args.linear_probe_lr, weight_decay=args.weight_decay)
        out["probe"] = _timed(fit, spec["probe_steps"], spec["warmup"] * 2, probe, None, False)
        for param in body:
            param.requires_grad_(True)
    if "finetune" in spec["phases"]:
        out["finetune"] = _timed(fit, spec["steps"], spec["warmup"], optimizer, scheduler, True)
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

    args = TrainingArguments(**{**spec["args"], "bf16": False})
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


def run_option(scenario: str, spec: dict, steps: int, probe_steps: int, warmup: int,
               timeout_s: float) -> dict:
    """Run one option's worker (with the busy process for ``+busy`` scenarios); its results."""
    spec = {**spec, "steps": steps, "probe_steps": probe_steps, "warmup": warmup}
    env = {k: v for k, v in os.environ.items()
           if k not in ("TONEWATCH_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
                        "OMP_NUM_THREADS", *AVX2_ENV)}
    env |= {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **spec["env"]}
    python = spec.get("python") or sys.executable
    cmd = [python, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    if spec["pin"]:
        cmd = ["taskset", "-c", spec["pin"], *cmd]
    from pipeline.scoring.threads import busy_cores

    others = round(busy_cores(0.5), 2)  # load of other work than this benchmark, for the record
    spinner = busy_process() if scenario.endswith("+busy") else None
    try:
        if spinner:
            time.sleep(1.0)  # let it show in /proc/stat
        started = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout_s)
        wall = time.perf_counter() - started
    except subprocess.TimeoutExpired:
        return {"scenario": scenario, **spec, "error": f"timed out after {timeout_s:.0f} s"}
    finally:
        if spinner:
            spinner.kill()
            spinner.wait()
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"scenario": scenario, **spec, "error": " | ".join(tail)}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"scenario": scenario, **spec, **result, "wall_s": round(wall, 1),
            "other_busy_cores_before": others}


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
    print(json.dumps(ort_worker(_spec) if _spec.get("ort") else worker(_spec)))

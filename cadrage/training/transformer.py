"""Fine-tuning the multi-task transformer with the Hugging Face Trainer (so accelerate/torchrun
scale it out with no code change); checkpoints every epoch, `training.resume=true` resumes."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import (
    AutoTokenizer,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from cadrage.metrics import head_metrics
from cadrage.models.inference import WEIGHTS, TransformerBackend
from cadrage.models.multitask import IGNORE, MultiTaskModel
from cadrage.models.tiny import build_tiny_camembert
from cadrage.paths import project_path
from cadrage.schema import LabelSchema
from cadrage.training.config import RunConfig, TrainError

SENTENCE_LABELS = ["technique_labels", "loaded_labels", "stance_labels", "voice_labels"]
TOKEN_LABELS = "cue_labels"  # one per token: padded with IGNORE like the ids
LABEL_NAMES = SENTENCE_LABELS + [TOKEN_LABELS]


def cue_tags(row: dict, offsets: list[tuple[int, int]]) -> list[int]:
    """O/B/I per token from the row's cue spans. Unknown (IGNORE) where the row cannot say:
    special tokens, and loaded rows whose cues were not marked; an unloaded row is all O."""
    spans = row.get("cues")
    if row["loaded"] is None or (row["loaded"] == 1 and not spans):
        return [IGNORE] * len(offsets)
    tags, previous = [], None
    for a, b in offsets:
        if a == b:  # <s>, </s>: no characters
            tags.append(IGNORE)
            continue
        inside = next((k for k, c in enumerate(spans or []) if a < c["end"] and b > c["start"]), None)
        tags.append(0 if inside is None else (2 if inside == previous else 1))
        previous = inside
    return tags


def encode_rows(rows: list[dict], tokenizer, schema: LabelSchema, max_length: int) -> list[dict]:
    enc = tokenizer([r["text"] for r in rows], truncation=True, max_length=max_length, return_offsets_mapping=True)
    out = []
    for i, r in enumerate(rows):
        tech = [IGNORE] * len(schema.techniques) if r["techniques"] is None else [int(t in r["techniques"]) for t in schema.techniques]
        out.append({
            "input_ids": enc["input_ids"][i],
            "technique_labels": tech,
            "loaded_labels": IGNORE if r["loaded"] is None else r["loaded"],
            "stance_labels": IGNORE if r["stance"] is None else schema.stance_labels.index(r["stance"]),
            "voice_labels": IGNORE if r["voice"] is None else schema.voice_labels.index(r["voice"]),
            TOKEN_LABELS: cue_tags(r, enc["offset_mapping"][i]),
        })
    return out


class Collator:
    """Pads each batch to its own longest row (dynamic padding)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(features), width), dtype=torch.long)
        for i, f in enumerate(features):
            ids[i, : len(f["input_ids"])] = torch.tensor(f["input_ids"])
            mask[i, : len(f["input_ids"])] = 1
        batch = {"input_ids": ids, "attention_mask": mask}
        for name in SENTENCE_LABELS:
            batch[name] = torch.tensor([f[name] for f in features])
        batch[TOKEN_LABELS] = torch.full((len(features), width), IGNORE, dtype=torch.long)
        for i, f in enumerate(features):
            batch[TOKEN_LABELS][i, : len(f[TOKEN_LABELS])] = torch.tensor(f[TOKEN_LABELS])
        return batch


def class_weights(rows: list[dict], schema: LabelSchema) -> dict[str, torch.Tensor]:
    """pos_weight per technique (neg/pos, clipped) and inverse-frequency stance/voice weights."""
    tech = np.array([[t in r["techniques"] for t in schema.techniques] for r in rows if r["techniques"] is not None], dtype=float)
    pos = tech.sum(0) if len(tech) else np.ones(len(schema.techniques))
    pos_weight = np.clip((len(tech) - pos) / np.maximum(pos, 1), 1.0, 20.0)
    weights = {"technique_pos_weight": torch.tensor(pos_weight, dtype=torch.float)}
    for name, labels in (("stance", schema.stance_labels), ("voice", schema.voice_labels)):
        counts = np.array([sum(r[name] == l for r in rows) for l in labels], dtype=float)
        w = counts.sum() / np.maximum(counts, 1) / len(labels)
        weights[f"{name}_weight"] = torch.tensor(np.clip(w, 0.2, 5.0), dtype=torch.float)
    return weights


class MlflowEpochMetrics(TrainerCallback):
    """Logs each epoch's dev metrics to the active MLflow run."""

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        import mlflow

        if metrics and mlflow.active_run():
            step = int(round(state.epoch or 0))
            mlflow.log_metrics({f"epoch_{k}": float(v) for k, v in metrics.items() if isinstance(v, (int, float))}, step=step)


def encoder_source(cfg: RunConfig, train_texts: list[str], work_dir: Path) -> str:
    if not cfg.model.build_tiny:
        return cfg.model.name
    encoder_dir = work_dir / "tiny-encoder"
    if not (encoder_dir / "config.json").exists():
        build_tiny_camembert(train_texts, encoder_dir, cfg.model.tiny)
    return str(encoder_dir)


def freeze(model: MultiTaskModel, part: str) -> None:
    """Stop gradients to the word embeddings or to the whole encoder (see ModelConfig.freeze)."""
    if part == "embeddings":
        model.encoder.get_input_embeddings().weight.requires_grad_(False)
    elif part == "encoder":
        model.encoder.requires_grad_(False)


def fit_transformer(cfg: RunConfig, schema: LabelSchema, splits):
    set_seed(cfg.training.seed)
    if cfg.training.threads:
        torch.set_num_threads(cfg.training.threads)
    work_dir = project_path(cfg.output_dir).with_name(project_path(cfg.output_dir).name + ".work")
    source = encoder_source(cfg, [r["text"] for r in splits.train], work_dir)
    kwargs = dict(n_techniques=len(schema.techniques), n_stance=len(schema.stance_labels), n_voice=len(schema.voice_labels),
                  dropout=cfg.model.dropout, pooling=cfg.model.pooling, cue_head=cfg.model.cue_head,
                  **class_weights(splits.train, schema))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = MultiTaskModel.from_pretrained_encoder(source, **kwargs)
    except (OSError, ValueError) as e:  # missing files offline; invalid repo id for a bad path
        raise TrainError(
            f"cannot load encoder {source!r} offline ({str(e).splitlines()[0]}). Download it on a connected machine "
            f"and set model.name to that local directory (config.json, tokenizer files, weights), or set "
            f"HF_HUB_OFFLINE=1 with a cached copy; for a quick local run use configs/tiny.yaml."
        ) from None

    freeze(model, cfg.model.freeze)
    train_ds = encode_rows(splits.train, tokenizer, schema, cfg.model.max_length)
    dev_ds = encode_rows(splits.dev, tokenizer, schema, cfg.model.max_length)
    checkpoints = work_dir / "checkpoints"
    args = TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=cfg.training.epochs,
        max_steps=cfg.training.max_steps,
        per_device_train_batch_size=cfg.training.batch_size,
        per_device_eval_batch_size=cfg.training.eval_batch_size,
        learning_rate=cfg.training.learning_rate,
        weight_decay=cfg.training.weight_decay,
        warmup_steps=cfg.training.warmup_ratio,  # a float in [0, 1) is a ratio of total steps
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        save_total_limit=cfg.training.save_total_limit,
        seed=cfg.training.seed,
        label_names=LABEL_NAMES,
        remove_unused_columns=False,
        report_to=[],
        # The Trainer's progress bar (steps, elapsed, ETA) on an interactive terminal; quiet in logs and CI.
        disable_tqdm=not sys.stderr.isatty(),
        dataloader_num_workers=0,
        # Batches of similar lengths: dynamic padding then wastes little compute on pad tokens.
        train_sampling_strategy="group_by_length" if cfg.training.group_by_length else "random",
    )

    def compute_metrics(pred):
        # Rows come back in the eval sampler's order (length-grouped, not the dev file's), so the
        # gold labels are read from label_ids, which follow the same order as the predictions.
        tech, loaded, stance, voice = pred.predictions[:len(SENTENCE_LABELS)]
        tech_y, loaded_y, stance_y, voice_y = pred.label_ids[:len(SENTENCE_LABELS)]
        rows = [{"loaded": None if loaded_y[i] == IGNORE else int(loaded_y[i]),
                 "techniques": None if tech_y[i][0] == IGNORE else [t for j, t in enumerate(schema.techniques) if tech_y[i][j] == 1],
                 "stance": None if stance_y[i] == IGNORE else schema.stance_labels[int(stance_y[i])],
                 "voice": None if voice_y[i] == IGNORE else schema.voice_labels[int(voice_y[i])]} for i in range(len(loaded_y))]
        half = {"loaded": 0.5, "techniques": {t: 0.5 for t in schema.techniques}}
        sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
        soft = lambda x: np.exp(x - x.max(1, keepdims=True)) / np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)  # noqa: E731
        return head_metrics(rows, sig(loaded), sig(tech), soft(stance), soft(voice), half, schema)

    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=dev_ds,
                      data_collator=Collator(tokenizer.pad_token_id), compute_metrics=compute_metrics,
                      callbacks=[MlflowEpochMetrics()])
    resume = get_last_checkpoint(str(checkpoints)) if cfg.training.resume and checkpoints.is_dir() else None
    try:
        trainer.train(resume_from_checkpoint=resume)
    except Exception as e:  # whatever a damaged checkpoint raises (safetensors, torch, json)
        if resume:
            raise TrainError(f"cannot resume from checkpoint {resume}: {str(e).splitlines()[0]} (delete it to start over)") from None
        raise
    model.encoder.config.cadrage_max_length = cfg.model.max_length
    backend = TransformerBackend(model, tokenizer, max_length=cfg.model.max_length, batch_size=cfg.training.eval_batch_size)

    def write_weights(directory: Path) -> None:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(directory / WEIGHTS))
        model.encoder.config.save_pretrained(directory)
        tokenizer.save_pretrained(directory)

    return backend, write_weights

"""One training run: load and check the data, fit a backend, calibrate and tune thresholds on
dev, evaluate, save the model directory, track everything in MLflow, optionally register."""
from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from cadrage import tracking
from cadrage.data import (
    DataError,
    Vocab,
    assign_ids,
    canonical_rows,
    files_fingerprint,
    read_records,
)
from cadrage.lexicon import Lexicon
from cadrage.metrics import fit_calibration, head_metrics, tune_thresholds
from cadrage.models.artifacts import Calibration, save_model_dir
from cadrage.models.embeddings import SentenceEncoder
from cadrage.models.heads import HeadOutputs
from cadrage.models.linear import LinearMultiTask, save_linear
from cadrage.models.loading import load_model
from cadrage.paths import ROOT, project_path
from cadrage.schema import LabelSchema, label_schema, load_schema_file
from cadrage.semeval import read_semeval
from cadrage.serving import log_pyfunc
from cadrage.training.config import ConfigError, RunConfig, to_dict
from cadrage.training.crossval import oof_flag_figures, out_of_fold, with_weight
from cadrage.training.realdata import real_dev_rows, wikinews_negatives

log = logging.getLogger("cadrage.train")


@dataclass
class Splits:
    train: list[dict]
    dev: list[dict]
    test: list[dict] | None
    fingerprint: str


def load_split(path: str, fmt: str, vocab: Vocab) -> list[dict]:
    full = project_path(path)
    if fmt == "semeval":
        records = read_semeval(full)
    else:
        records = read_records(full)
    return assign_ids(canonical_rows(records, vocab, origin=str(path)))


def load_splits(cfg: RunConfig, schema: LabelSchema) -> Splits:
    vocab = Vocab.from_schema_file(load_schema_file(project_path(cfg.data.schema)))
    train = load_split(cfg.data.train, cfg.data.format, vocab)
    dev = load_split(cfg.data.dev, cfg.data.format, vocab)
    test = load_split(cfg.data.test, cfg.data.format, vocab) if cfg.data.test else None
    for name, rows in (("train", train), ("dev", dev), ("test", test)):
        if rows is not None and not rows:
            raise DataError([f"data.{name}: the split is empty"])
    labelled = [r for r in train if r["techniques"] is not None]
    if labelled:
        seen = {t for r in labelled for t in r["techniques"]}
        missing = [t for t in schema.techniques if t not in seen]
        if missing:
            raise DataError([f"data.techniques: no training example of {missing}; drop them from the label set or add data"])
    paths = [project_path(p) for p in (cfg.data.train, cfg.data.dev, cfg.data.test) if p]
    return Splits(train, dev, test, files_fingerprint(paths))


def git_revision() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(flat(v, key + ".") if isinstance(v, dict) else {key: v})
    return out


def frozen_encoder(cfg: RunConfig) -> SentenceEncoder | None:
    """The sentence encoder of a linear run with `linear.encoder`, loaded once per run and
    remembering its vectors: the real-dev folds refit on the same sentences."""
    if cfg.model.backend != "linear" or cfg.linear.encoder is None:
        return None
    path = project_path(cfg.linear.encoder)
    if not path.is_dir():
        raise ConfigError(f"invalid config key 'linear.encoder': {path} is not a folder (bash scripts/setup.sh "
                          f"converts multilingual-e5-small into models/encoders/)")
    return SentenceEncoder(path, max_length=cfg.linear.encoder_max_length, prefix=cfg.linear.encoder_prefix, remember=True)


def fit_backend(cfg: RunConfig, schema: LabelSchema, splits: Splits, lexicon_path: Path,
                encoder: SentenceEncoder | None = None):
    """(backend with .outputs(texts), function writing its weights into a directory)."""
    if cfg.model.backend == "linear":
        lexicon = Lexicon.from_csv(lexicon_path, known_techniques=set(load_schema_file(project_path(cfg.data.schema))["techniques"]))
        entries = [[e.expression, "|".join(e.techniques), e.stance_lean] for e in lexicon.entries]
        model = LinearMultiTask(
            schema, entries, C=cfg.linear.C, word_ngrams=tuple(cfg.linear.word_ngrams),
            char_ngrams=tuple(cfg.linear.char_ngrams), max_features=cfg.linear.max_features, seed=cfg.training.seed,
            lexicon_weight=cfg.linear.lexicon_weight, encoder=encoder, encoder_weight=cfg.linear.encoder_weight,
        ).fit(splits.train)
        return model, lambda d: save_linear(model, d)
    # Deferred on purpose: it imports torch and transformers (seconds), which linear runs never need.
    from cadrage.training.transformer import fit_transformer

    return fit_transformer(cfg, schema, splits)


def tune(rows: list[dict], out: HeadOutputs, schema: LabelSchema) -> tuple[Calibration, dict]:
    """Platt calibration of the loaded head, then per-label F1-best thresholds, on `rows`."""
    labelled = [(r["loaded"], s) for r, s in zip(rows, out.loaded_logit) if r["loaded"] is not None]
    calibration = Calibration(**fit_calibration(np.array([y for y, _ in labelled]), np.array([s for _, s in labelled])))
    return calibration, tune_thresholds(rows, calibration(out.loaded_logit), out.techniques, schema)


def real_dev_tuner(dev: list[dict], dev_out: HeadOutputs, tuning_real: list[dict], real_out: HeadOutputs,
                   schema: LabelSchema, fixed: tuple[Calibration, dict]) -> Callable[[np.ndarray], tuple[Calibration, dict]]:
    """Tuning on the authored dev split plus the real-dev rows a mask keeps; `fixed` (the run's
    own tuning) when real-dev is not used for tuning at all."""
    def tune_with(keep: np.ndarray) -> tuple[Calibration, dict]:
        if not tuning_real:
            return fixed
        idx = np.flatnonzero(keep)
        return tune(dev + [tuning_real[i] for i in idx], HeadOutputs.concat([dev_out, real_out.take(idx)]), schema)

    return tune_with


def log_oof(mlflow, figures: dict) -> None:
    strict = figures["without_own_fold"]
    log.info("real-dev out of fold: author-loaded F1 %.3f %s, flag rate on not-loaded %.3f; tuned without the fold "
             "scored: %.3f, %.3f", figures["author_loaded_f1"], figures["author_loaded_f1_interval"],
             figures["not_loaded_flag_rate"], strict["author_loaded_f1"], strict["not_loaded_flag_rate"])
    mlflow.log_metrics({f"real_dev_oof_{k}": v for k, v in flat(figures).items() if isinstance(v, (int, float)) and v == v})


def outputs_metrics(rows: list[dict], out: HeadOutputs, calibration: Calibration, thresholds: dict, schema: LabelSchema) -> dict:
    return head_metrics(rows, calibration(out.loaded_logit), out.techniques, out.stance, out.voice, thresholds, schema)


def evaluate_split(backend, rows: list[dict], calibration: Calibration, thresholds: dict, schema: LabelSchema) -> dict:
    return outputs_metrics(rows, backend.outputs([r["text"] for r in rows]), calibration, thresholds, schema)


def run(cfg: RunConfig, dvc_params: dict | None = None, provenance: dict | None = None) -> dict:
    """Train, save and track one run; returns a summary (model dir, metrics, run id, registry).
    `provenance` is stored in the model card as is (the default model records its sources)."""
    schema = label_schema(cfg.data.techniques, project_path(cfg.data.schema))
    splits = load_splits(cfg, schema)
    negatives = wikinews_negatives(cfg.data.real.wikinews_negatives, cfg.data.real.seed)
    splits.train = splits.train + negatives
    real = cfg.data.real
    real_dev = real_dev_rows() if real.tune_on_real_dev or real.train_on_real_dev else []
    base_train = splits.train
    if real.train_on_real_dev and real_dev:
        splits.train = base_train + with_weight(real_dev, real.real_dev_weight)
    # Calibration and thresholds: the authored dev split, plus the real-dev documents when asked
    # (scored out of fold when they are also training rows).
    tuning_real = real_dev if real.tune_on_real_dev else []
    tuning = splits.dev + tuning_real
    lexicon_path = project_path(cfg.data.lexicon)
    mlflow = tracking.setup(cfg.tracking.tracking_uri)
    experiment_id = tracking.ensure_experiment(cfg.tracking.experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name=cfg.name) as active:
        config_dict = to_dict(cfg)
        mlflow.log_params({k: str(v)[:500] for k, v in flat(config_dict).items()})
        mlflow.log_dict(config_dict, "config.json")
        if dvc_params is not None:
            # Ties a registry version to the pipeline state (params + git revision) that made it.
            mlflow.log_dict(dvc_params, "dvc_params.yaml")
            mlflow.log_params({f"dvc.{k}": str(v)[:500] for k, v in flat(dvc_params).items()})
        n_real_train = len(real_dev) if real.train_on_real_dev else 0
        mlflow.set_tags({
            "dataset_fingerprint": splits.fingerprint, "backend": cfg.model.backend,
            "git_revision": git_revision() or "unknown",
            "n_train": len(splits.train), "n_dev": len(splits.dev), "n_test": len(splits.test or []),
            "n_real_negatives": len(negatives), "n_real_dev_tuning": len(tuning_real), "n_real_dev_train": n_real_train,
        })
        encoder = frozen_encoder(cfg)
        backend, write_weights = fit_backend(cfg, schema, splits, lexicon_path, encoder)
        oof = None
        if n_real_train:
            oof = out_of_fold(real_dev, base_train, real.cv_folds, real.seed, real.real_dev_weight,
                              fit=lambda rows: fit_backend(cfg, schema, replace(splits, train=rows), lexicon_path, encoder)[0])

        dev_out = backend.outputs([r["text"] for r in splits.dev])
        real_out = oof.outputs if oof else (backend.outputs([r["text"] for r in real_dev]) if real_dev else None)
        tune_out = HeadOutputs.concat([dev_out, real_out]) if tuning_real else dev_out
        calibration, thresholds = tune(tuning, tune_out, schema)
        metrics = {"dev": outputs_metrics(splits.dev, dev_out, calibration, thresholds, schema)}
        if real_dev:
            # out of fold when real-dev was trained on: the in-sample figure would mean nothing
            metrics["real_dev_oof" if oof else "real_dev"] = outputs_metrics(real_dev, real_out, calibration, thresholds, schema)
        if splits.test:
            metrics["test"] = evaluate_split(backend, splits.test, calibration, thresholds, schema)
        oof_flags = None
        if oof:
            tuner = real_dev_tuner(splits.dev, dev_out, tuning_real, real_out, schema, fixed=(calibration, thresholds))
            oof_flags = oof_flag_figures(real_dev, oof, schema, tuner, lexicon_path,
                                         cue_voice=bool(cfg.model.cue_head and cfg.model.cue_voice))
            log_oof(mlflow, oof_flags)
        mlflow.log_metrics({f"{split}_{k}": v for split, m in metrics.items() for k, v in m.items()})
        mlflow.log_dict(thresholds, "thresholds.json")

        card = {
            "backend": cfg.model.backend,
            "name": cfg.name,
            "schema": schema.to_dict(),
            "thresholds": thresholds,
            "calibration": {"coef": calibration.coef, "intercept": calibration.intercept},
            "metrics": metrics,
            "dataset_fingerprint": splits.fingerprint,
            "real_text": {"wikinews_negatives": len(negatives), "real_dev_tuning_rows": len(tuning_real),
                          "real_dev_training_rows": n_real_train,
                          **({"real_dev_weight": real.real_dev_weight, "cv_folds": real.cv_folds,
                              "real_dev_oof_flag": oof_flags} if oof else {})},
            "cue_voice": bool(cfg.model.cue_head and cfg.model.cue_voice),
            "mlflow_run_id": active.info.run_id,
            "config": config_dict,
            **({"provenance": provenance} if provenance else {}),
        }
        model_dir = save_model_dir(project_path(cfg.output_dir), card, write_weights, lexicon_path)

        model_info = log_pyfunc(model_dir)
        result = {"model_dir": str(model_dir), "run_id": active.info.run_id, "metrics": metrics}
        if cfg.tracking.register:
            result["registry"] = tracking.register_run_model(
                active.info.run_id, model_info.model_uri, metrics["dev"]["macro_f1"], cfg.tracking.registered_model,
                dataset_fingerprint=splits.fingerprint, rescore=lambda uri: dev_macro_f1(uri, splits.dev))
    return result


def dev_macro_f1(model_uri: str, dev: list[dict]) -> float:
    """A registered model's ranking score (macro-F1 over the four heads) on `dev`, with its own
    calibration, thresholds and label set."""

    model = load_model(tracking.resolve_model_dir(model_uri))
    out = model.backend.outputs([r["text"] for r in dev])
    return head_metrics(dev, model.calibration(out.loaded_logit), out.techniques, out.stance, out.voice,
                        model.thresholds, model.schema)["macro_f1"]

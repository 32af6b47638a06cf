"""Training configuration: dataclasses that fully describe a run, loaded from YAML with
`key=value` overrides. Unknown keys and wrong types are errors that name the key."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cadrage.models.tiny import TinyEncoderConfig


@dataclass
class RealTextConfig:
    """Real text from ../shared/real in training (cadrage.training.realdata); skipped with a
    warning when it is absent. real-test is never used."""

    wikinews_negatives: int = 0  # unannotated Wikinews sentences added to train as loaded=0
    tune_on_real_dev: bool = False  # calibrate and tune thresholds on authored dev + real-dev
    # Train on the annotated real-dev sentences too (linear backend). real-dev then stands in
    # for itself in tuning and in the reported figure only through out-of-fold scores: K-fold
    # cross-validation by document (cadrage.training.crossval).
    train_on_real_dev: bool = False
    real_dev_weight: float = 1.0  # sample weight of each real-dev training row
    cv_folds: int = 5
    seed: int = 13


@dataclass
class DataConfig:
    train: str = "data/prepared/train.jsonl"
    dev: str = "data/prepared/dev.jsonl"
    test: Optional[str] = "data/prepared/test.jsonl"
    format: str = "auto"  # auto (JSONL/CSV/Parquet) | semeval
    schema: str = "configs/labels.yaml"
    techniques: Any = "default"  # "default", "all", or a list of technique names
    lexicon: str = "data/lexicon.csv"
    real: RealTextConfig = field(default_factory=RealTextConfig)


@dataclass
class ModelConfig:
    backend: str = "linear"  # linear | transformer
    name: str = "camembert-base"  # transformer: hub name or local directory
    build_tiny: bool = False  # build a small CamemBERT from the training text instead of loading `name`
    tiny: TinyEncoderConfig = field(default_factory=TinyEncoderConfig)
    max_length: int = 128
    dropout: float = 0.1
    pooling: str = "cls"  # cls | mean (e5 encoders are trained with mean pooling)
    # What stays fixed while fine-tuning: nothing, the word embeddings (most of a multilingual
    # encoder's parameters, and the slowest part of a CPU optimizer step), or the whole encoder
    # (only the heads learn: the "frozen encoder + linear head" model).
    freeze: str = "none"  # none | embeddings | encoder
    cue_head: bool = False  # a token-level head trained on the corpus' cue spans
    # with a cue head: its spans also decide the voice (inside quotes/attributions -> reported);
    # written into the model card, read by the Scorer
    cue_voice: bool = False


@dataclass
class LinearConfig:
    C: float = 4.0
    word_ngrams: list[int] = field(default_factory=lambda: [1, 2])
    char_ngrams: list[int] = field(default_factory=lambda: [2, 5])
    max_features: int = 200000
    lexicon_weight: float = 1.0
    # A frozen encoder folder (e.g. models/encoders/multilingual-e5-small) whose mean-pooled
    # sentence vectors join the n-gram features; null: n-grams and lexicon only.
    encoder: Optional[str] = None
    encoder_weight: float = 2.0
    encoder_max_length: int = 128
    encoder_prefix: str = ""  # e5 encoders expect "query: "


@dataclass
class TrainingConfig:
    epochs: float = 3.0
    batch_size: int = 16
    eval_batch_size: int = 64
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    seed: int = 13
    resume: bool = False
    save_total_limit: int = 2
    max_steps: int = -1  # a step budget: stops there even mid-epoch
    group_by_length: bool = True
    threads: Optional[int] = None


@dataclass
class TrackingConfig:
    experiment: str = "cadrage"
    register: bool = False
    registered_model: str = "cadrage"
    tracking_uri: Optional[str] = None  # default: MLFLOW_TRACKING_URI, else sqlite under the project


@dataclass
class RunConfig:
    name: str = "run"
    output_dir: str = "models/run"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    linear: LinearConfig = field(default_factory=LinearConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


class ConfigError(ValueError):
    pass


class TrainError(RuntimeError):
    """A run that cannot proceed (model not loadable offline, corrupt checkpoint...)."""


def load_config(path: str | Path | None, overrides: list[str] = (), params: dict | None = None) -> RunConfig:
    """RunConfig from a YAML file, then `params` (a params.yaml section, as DVC edits it), then
    `key=value` overrides (e.g. training.epochs=1)."""
    try:
        cfg = OmegaConf.structured(RunConfig)
        if path is not None:
            if not Path(path).is_file():
                raise ConfigError(f"config file {path} does not exist")
            cfg = OmegaConf.merge(cfg, OmegaConf.load(path))
        if params:
            cfg = OmegaConf.merge(cfg, OmegaConf.create(params))
        bad = [o for o in overrides if "=" not in o]
        if bad:
            raise ConfigError(f"overrides must look like key=value, got {bad}")
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
        run: RunConfig = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None)
        reason = str(getattr(e, "msg", None) or e).splitlines()[0]
        raise ConfigError(f"invalid config{f' key {key!r}' if key else ''}: {reason}") from None
    if run.model.backend not in ("linear", "transformer"):
        raise ConfigError(f"invalid config key 'model.backend': {run.model.backend!r} (expected linear or transformer)")
    if run.model.pooling not in ("cls", "mean"):
        raise ConfigError(f"invalid config key 'model.pooling': {run.model.pooling!r} (expected cls or mean)")
    if run.model.freeze not in ("none", "embeddings", "encoder"):
        raise ConfigError(f"invalid config key 'model.freeze': {run.model.freeze!r} (expected none, embeddings or encoder)")
    if run.data.format not in ("auto", "semeval"):
        raise ConfigError(f"invalid config key 'data.format': {run.data.format!r} (expected auto or semeval)")
    if run.linear.encoder is not None and run.linear.encoder_weight <= 0:
        raise ConfigError(f"invalid config key 'linear.encoder_weight': {run.linear.encoder_weight} (must be > 0)")
    real = run.data.real
    if real.train_on_real_dev:
        if run.model.backend != "linear":
            raise ConfigError("invalid config key 'data.real.train_on_real_dev': only the linear backend supports it")
        if real.cv_folds < 2:
            raise ConfigError(f"invalid config key 'data.real.cv_folds': {real.cv_folds} (at least 2)")
        if real.real_dev_weight <= 0:
            raise ConfigError(f"invalid config key 'data.real.real_dev_weight': {real.real_dev_weight} (must be > 0)")
    return run


def to_dict(cfg: RunConfig) -> dict:
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)

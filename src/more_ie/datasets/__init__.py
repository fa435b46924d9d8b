"""Dataset readers (IMGID-CoNLL, MNRE) normalized to Parquet splits."""

from more_ie.datasets.normalize import FORMATS, ImageCheck, check_images, missing_images, normalize_split
from more_ie.datasets.readers import (
    DEFAULT_NO_RELATION_LABELS,
    NO_RELATION,
    DatasetError,
    read_conll_imgid,
    read_mnre,
)

__all__ = [
    "DEFAULT_NO_RELATION_LABELS",
    "FORMATS",
    "NO_RELATION",
    "DatasetError",
    "ImageCheck",
    "check_images",
    "missing_images",
    "normalize_split",
    "read_conll_imgid",
    "read_mnre",
]

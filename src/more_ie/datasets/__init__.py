"""Dataset readers (IMGID-CoNLL, MNRE) normalized to Parquet splits."""
from more_ie.datasets.normalize import FORMATS, missing_images, normalize_split
from more_ie.datasets.readers import DatasetError, read_conll_imgid, read_mnre

__all__ = ["FORMATS", "DatasetError", "missing_images", "normalize_split", "read_conll_imgid", "read_mnre"]

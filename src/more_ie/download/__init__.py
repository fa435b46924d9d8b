"""Downloads: whole files with resume and checksums; the image KC's images.

Names are imported lazily (PEP 562): the command line imports :mod:`more_ie.download.settings`
to build its flags, which must not pay for importing pyarrow.
"""

from __future__ import annotations

from more_ie.lazy import lazy_exports

_EXPORTS = {
    "DownloadError": "files",
    "download_file": "files",
    "sha256_of": "files",
    "DownloadSettings": "settings",
    "download_images": "images",
    "update_local_paths": "images",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)

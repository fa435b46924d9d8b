"""Downloads: whole files with resume and checksums; the image KC's images."""

from more_ie.download.files import DownloadError, download_file, sha256_of
from more_ie.download.images import DownloadSettings, download_images, update_local_paths

__all__ = [
    "DownloadError",
    "DownloadSettings",
    "download_file",
    "download_images",
    "sha256_of",
    "update_local_paths",
]

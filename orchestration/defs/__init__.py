"""Everything in this folder is loaded automatically by load_from_defs_folder."""

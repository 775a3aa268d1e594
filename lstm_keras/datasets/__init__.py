"""Data set loaders (downloaded with `keras.utils.get_file`, or read from a local `data_dir`) and generators."""

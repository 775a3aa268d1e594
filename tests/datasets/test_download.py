"""`fetch`: a failed download (offline, say) is an error that says how to use local copies."""

import keras
import pytest

from lstm_keras.datasets.download import DownloadError
from lstm_keras.datasets.download import fetch


def test_an_offline_download_names_data_dir_and_the_file(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example.org/ptb.train.txt: None -- [Errno -3] no network")

    monkeypatch.delenv("LSTM_KERAS_DATA_DIR", raising=False)
    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(DownloadError, match=r"could not download ptb.train.txt .*--data-dir.*must hold ptb.train.txt"):
        fetch("ptb.train.txt", "https://example.org/ptb.train.txt")


def test_a_missing_local_copy_names_the_expected_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="ptb.train.txt not found in data_dir"):
        fetch("ptb.train.txt", "https://example.org/ptb.train.txt", data_dir=str(tmp_path))

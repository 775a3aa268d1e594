"""`benchmarks/make_ui_strings.py`: gettext catalogs read like Python's `gettext`, the filters, a `.deb` end to end."""

import gettext
import importlib.util
import io
import os
import shutil
import struct
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("make_ui_strings", os.path.join(ROOT, "benchmarks", "make_ui_strings.py"))
make = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make)

ENTRIES = {
    "": "Content-Type: text/plain; charset=UTF-8\n",
    "_Open the file": "_Abrir el archivo",
    "Where is the ~child?": "¿Dónde está el ~niño?",
    "menu\x04Close all windows": "Cerrar todas las ventanas",
    "Could not open %s": "No se pudo abrir %s",
    "Saved {0} files": "Se guardaron {0} archivos",
    "<b>Bold</b> text here": "Texto <b>negrita</b> aquí",
    "Line one\nLine two": "Línea uno\nLínea dos",
    "Quit": "Salir",  # one word
    "Use the vod_rtsp module": "Usar el módulo vod_rtsp",
    "Same in both": "Same in both",
    "Save & Close now": "Guardar y cerrar ahora",
}


def test_catalogs_are_read_as_python_gettext_reads_them():
    data = make.write_mo(ENTRIES)
    expected = gettext.GNUTranslations(io.BytesIO(data))._catalog  # Python's own reader
    ours = make.read_mo(data)
    assert ours == {key.split("\x04")[-1]: value for key, value in expected.items() if key}
    # The same catalog in big-endian order.
    count = struct.unpack("<I", data[8:12])[0]
    words = struct.unpack(f"<{7 + 4 * count}I", data[:28 + 16 * count])
    swapped = struct.pack(f">{len(words)}I", *words) + data[28 + 16 * count:]
    assert make.read_mo(swapped) == ours
    with pytest.raises(ValueError, match=".mo"):
        make.read_mo(b"\x00" * 28)


def test_only_entries_that_read_as_text_are_kept():
    kept = {}
    for message, translation in make.read_mo(make.write_mo(ENTRIES)).items():
        message, translation = make.clean(message), make.clean(translation)
        if message != translation and make.keep(message, translation, max_words=30):
            kept[message] = translation
    assert kept == {
        "Open the file": "Abrir el archivo",
        "Where is the child?": "¿Dónde está el niño?",
        "Close all windows": "Cerrar todas las ventanas",
        "Save & Close now": "Guardar y cerrar ahora",
    }
    assert not make.keep("one two three four", "uno dos tres cuatro", max_words=3)


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb (Debian's package tool) is not installed")
def test_a_package_becomes_two_tsv_files(tmp_path):
    package = tmp_path / "package"
    for language, entries in (("es", ENTRIES), ("de", {"_Open the file": "Datei öffnen"})):
        folder = package / "usr" / "share" / "locale" / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "demo.mo").write_bytes(make.write_mo(entries))
    (package / "DEBIAN").mkdir()
    (package / "DEBIAN" / "control").write_text(
        "Package: demo\nVersion: 1.0\nArchitecture: all\nMaintainer: Nobody <nobody@example.org>\n"
        "Description: a test package\n")
    subprocess.run(["dpkg-deb", "--build", str(package), str(tmp_path / "demo.deb")], check=True, capture_output=True)
    make.main(["--debs", str(tmp_path), "--out", str(tmp_path / "out")])
    rows = (tmp_path / "out" / "en-es.tsv").read_text(encoding="utf-8").splitlines()
    assert sorted(rows) == sorted(["Open the file\tAbrir el archivo", "Where is the child?\t¿Dónde está el niño?",
                                   "Close all windows\tCerrar todas las ventanas",
                                   "Save & Close now\tGuardar y cerrar ahora"])
    reverse = (tmp_path / "out" / "es-en.tsv").read_text(encoding="utf-8").splitlines()
    assert reverse == ["\t".join(row.split("\t")[::-1]) for row in rows]
